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


def publish(detail_type: str, tenant_id: str, **detail: Any) -> None:
    entry = {"Source": SOURCE, "DetailType": detail_type, "EventBusName": get_settings().event_bus_name,
             "Detail": json.dumps({"tenant_id": tenant_id, **detail}, default=str)}
    try:
        failed = _events().put_events(Entries=[entry]).get("FailedEntryCount", 0)
    except Exception as e:  # best effort: never fail the decision being reported
        logger.warning("notification not sent", extra={"detail_type": detail_type, "error": repr(e)})
        return
    if failed:
        logger.warning("notification refused by EventBridge", extra={"detail_type": detail_type})


def reset_client() -> None:
    """Forget the client (tests that start a fresh moto)."""
    global _client
    _client = None
