"""The tenant's licensing policy: its confirm window, check-in interval, silent window and lease
length (seed: "Settings and Configuration > LoadMaster Licensing"; ``/v1/settings`` in the API).
Not the service's configuration, which is ``chalicelib.settings``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.domain.errors import validation
from chalicelib.domain.model import LicensingPolicy, Tenant
from chalicelib.observability import logger
from chalicelib.store import devices as device_store
from chalicelib.store import events
from chalicelib.store import tenants as store


def update(tenant: Tenant, changes: dict[str, Any], now: datetime) -> LicensingPolicy:
    """Change the policy. New activations use them at once; devices already licensed get the
    check-in interval, silent window and lease length written onto their items here, so the
    next check-in and the next sweep apply them (the confirm window of a pending device stays
    the one it was promised)."""
    policy = replace(tenant.policy, **changes)
    if policy.silent_after_s < policy.check_in_interval_s:
        raise validation(
            "A LoadMaster cannot be silent before its next check-in is due.",
            {"silent_after_s": "must be at least check_in_interval_s"},
        )
    store.set_policy(tenant.tenant_id, policy)
    if {"check_in_interval_s", "silent_after_s", "lease_s"} & changes.keys():
        updated = device_store.apply_policy(tenant.tenant_id, policy, now)
        logger.info("settings applied to devices", extra={"tenant_id": tenant.tenant_id, "devices": updated})
    events.record(tenant.tenant_id, "settings.updated", now, **changes)
    return policy
