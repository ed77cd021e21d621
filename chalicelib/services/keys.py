"""Key rotation: a new tenant API key or activation key, shown once; the old one stops at once."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.model import Tenant
from chalicelib.observability import logger
from chalicelib.security.keys import KeyKind, issue_key
from chalicelib.store import tenants as store


def rotate(tenant: Tenant, kind: KeyKind, now: datetime) -> str:
    issued = issue_key(kind, tenant.tenant_id)
    which = "api" if kind == KeyKind.API else "activation"
    store.set_key_hash(tenant.tenant_id, which, issued.sha256, now)
    logger.info("key rotated", extra={"tenant_id": tenant.tenant_id, "key_kind": which})
    return issued.plaintext
