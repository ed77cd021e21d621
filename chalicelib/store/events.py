"""The debug log: one item per event, keyed by tenant and a time-ordered id, expiring by TTL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.domain import ids
from chalicelib.domain.model import Event
from chalicelib.settings import get_settings
from chalicelib.store.failures import dynamodb
from chalicelib.store.models import EventItem


def event_item(
    tenant_id: str, kind: str, now: datetime, *, device_id: str | None = None, code: str | None = None, **detail: Any
) -> EventItem:
    """An event ready to save, alone or inside a transaction (so it lands with the change)."""
    return EventItem(
        tenant_id,
        f"{clock.rfc3339(now)}#{ids.new_event_suffix()}",
        kind=kind,
        device_id=device_id,
        code=code,
        detail={k: v for k, v in detail.items() if v is not None},
        expires_at=now + timedelta(days=get_settings().event_ttl_days),
    )


@dynamodb
def record(
    tenant_id: str, kind: str, now: datetime, *, device_id: str | None = None, code: str | None = None, **detail: Any
) -> None:
    event_item(tenant_id, kind, now, device_id=device_id, code=code, **detail).save()


def _event(item: EventItem) -> Event:
    at = clock.parse_rfc3339(item.event_id.split("#", 1)[0])
    return Event(item.event_id, at, item.kind, item.device_id, item.code, item.detail.as_dict())


@dynamodb
def list_events(
    tenant_id: str, *, device_id: str | None, limit: int, cursor: dict | None, now: datetime
) -> tuple[list[Event], dict | None]:
    """Newest first. TTL deletes lazily (and moto never does): expired events are filtered out."""
    condition = EventItem.expires_at > now
    if device_id:
        condition &= EventItem.device_id == device_id
    # PynamoDB keeps reading pages until ``limit`` events passed the filter.
    result = EventItem.query(
        tenant_id, filter_condition=condition, scan_index_forward=False, limit=limit, last_evaluated_key=cursor
    )
    events = [_event(i) for i in result]
    return events, result.last_evaluated_key
