"""The tenant's debug log (seed 7: "manually check the Kemp 360 Central debug log")."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.model import Event, Tenant
from chalicelib.store import events as store


def list_events(
    tenant: Tenant, *, device_id: str | None, limit: int, cursor: dict | None, now: datetime
) -> tuple[list[Event], dict | None]:
    """Every licensing decision, sweep action and admin change, newest first."""
    return store.list_events(tenant.tenant_id, device_id=device_id, limit=limit, cursor=cursor, now=now)
