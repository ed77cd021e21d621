"""Health: the table reachable, the signing key loaded."""

from __future__ import annotations

from typing import Any

from chalicelib.observability import logger
from chalicelib.security.signing import key_ring
from chalicelib.settings import get_settings
from chalicelib.store.models import TenantItem


def check() -> dict[str, Any]:
    checks = {}
    try:
        TenantItem.describe_table()
        checks["dynamodb"] = "ok"
    except Exception as e:  # health reports, it does not fail
        logger.warning("health: dynamodb unreachable", extra={"error": repr(e)})
        checks["dynamodb"] = "unreachable"
    try:
        key_ring()
        checks["signing_key"] = "ok"
    except Exception as e:
        logger.warning("health: signing key not loaded", extra={"error": repr(e)})
        checks["signing_key"] = "missing"
    settings = get_settings()
    status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
    return {"status": status, "version": settings.version, "stage": settings.stage, "checks": checks}


def jwks() -> dict[str, Any]:
    """The public keys that verify leases, every key of the ring (several during a rotation)."""
    return key_ring().jwks()
