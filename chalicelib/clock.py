"""The one source of time. Tests move it with ``set_now``; scheduled functions pass "now" explicitly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC).replace(microsecond=0)


def set_now(at: datetime | None) -> None:
    """Pin the clock (tests and demos); ``None`` returns it to the wall clock."""
    global _frozen
    _frozen = at


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or an offset) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return parsed.astimezone(UTC)


@overload
def rfc3339(value: datetime) -> str: ...


@overload
def rfc3339(value: None) -> None: ...


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
