"""Operator notifications as EventBridge events (source ``metered-licensing``), one
``detail-type`` per kind, so an operator routes them to email or chat with a rule.

Publishing is best effort: a notification that cannot be sent is logged, and the licensing
decision it reports stands.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from chalicelib.observability import logger
from chalicelib.settings import get_settings
from chalicelib.store import aws

SOURCE = "metered-licensing"

LICENSE_TYPE_AT_LIMIT = "License type at limit"
TRIAL_ENDING = "Trial ends in 7 days"
TRIAL_EXPIRED = "Trial expired"
DEVICE_BLOCKED = "Device blocked"
DEVICE_SILENT = "Device deactivated as silent"

_lock = threading.Lock()
_client = None


def _events():
    global _client
    with _lock:
        if _client is None:
            _client = aws.client("events")
    return _client


# PutEvents takes at most 10 entries per call (and 256 KB: ours are well under 1 KB each).
MAX_ENTRIES = 10


def _entry(detail_type: str, tenant_id: str, **detail: Any) -> dict:
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "EventBusName": get_settings().event_bus_name,
        "Detail": json.dumps({"tenant_id": tenant_id, **detail}, default=str),
    }


def publish(detail_type: str, tenant_id: str, **detail: Any) -> None:
    publish_all([_entry(detail_type, tenant_id, **detail)])


def publish_all(entries: list[dict]) -> None:
    """Send ``entries`` in calls of at most ``MAX_ENTRIES``. An entry EventBridge refuses, or a
    call that fails, is logged and not retried."""
    for start in range(0, len(entries), MAX_ENTRIES):
        chunk = entries[start : start + MAX_ENTRIES]
        try:
            results = _events().put_events(Entries=chunk).get("Entries", [])
        except Exception as e:  # best effort: never fail the decisions being reported
            logger.warning(
                "notification not sent",
                extra={"detail_types": sorted({n["DetailType"] for n in chunk}), "count": len(chunk), "error": repr(e)},
            )
            continue
        for entry, result in zip(chunk, results, strict=False):
            if result.get("ErrorCode"):
                logger.warning(
                    "notification refused by EventBridge",
                    extra={
                        "detail_type": entry["DetailType"],
                        "error_code": result["ErrorCode"],
                        "error": result.get("ErrorMessage"),
                    },
                )


class Outbox:
    """Notifications sent ten to a call as they accumulate, the rest when the block ends (even
    by an error: the decisions they report were made)."""

    def __init__(self) -> None:
        self._entries: list[dict] = []

    def add(self, detail_type: str, tenant_id: str, **detail: Any) -> None:
        self._entries.append(_entry(detail_type, tenant_id, **detail))
        if len(self._entries) == MAX_ENTRIES:
            self.flush()

    def flush(self) -> None:
        entries, self._entries = self._entries, []
        publish_all(entries)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def reset_client() -> None:
    """Forget the client (tests that start a fresh moto)."""
    global _client
    _client = None
