"""Health: the table reachable, the signing key loaded."""

from __future__ import annotations

from typing import Any

from chalicelib import store
from chalicelib.observability import logger
from chalicelib.security.signing import key_ring
from chalicelib.settings import get_settings
from chalicelib.store.failures import aws_call


def check() -> dict[str, Any]:
    checks = {"dynamodb": "ok" if store.ping() else "unreachable"}
    try:
        key_ring()
        checks["signing_key"] = "ok"
    except Exception as e:  # health reports, it does not fail
        logger.warning("health: signing key not loaded", extra={"error": repr(e)})
        checks["signing_key"] = "missing"
    settings = get_settings()
    status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
    return {"status": status, "version": settings.version, "stage": settings.stage, "checks": checks}


def jwks() -> dict[str, Any]:
    """The public keys that verify leases, every key of the ring (several during a rotation)."""
    with aws_call():
        return key_ring().jwks()
