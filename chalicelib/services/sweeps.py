"""The scheduled compliance sweeps and the hourly meter.

Each takes "now" from its event, reads only what is due (sparse, sharded indexes; never a scan
of devices), writes each change conditionally on the state it read, and can run twice or
concurrently with itself and with check-ins: a device that checks in while a sweep looks at it
stays active, and every instance is released exactly once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from chalicelib import clock, notifications
from chalicelib.domain.model import DeviceStatus, TenantState
from chalicelib.observability import count, logger
from chalicelib.services.tenants import deactivate_all
from chalicelib.settings import get_settings
from chalicelib.store import devices as device_store
from chalicelib.store import events
from chalicelib.store import tenants as tenant_store
from chalicelib.store import usage as usage_store
from chalicelib.store.models import DeviceItem


@dataclass
class SweepReport:
    sweep: str
    due: int = 0
    acted: int = 0
    skipped: int = 0  # lost a race: the item moved after it was read

    def publish(self) -> dict:
        for metric, value in (("Due", self.due), ("Acted", self.acted), ("SkippedLostRace", self.skipped)):
            count(f"{self.sweep}.{metric}", value)
        logger.info("sweep finished", extra=asdict(self))
        return asdict(self)


def block_unconfirmed(now: datetime) -> dict:
    """PENDING devices past ``confirm_by`` become BLOCKED and give their instance back (seed:
    "Block unconfirmed local license activation after")."""
    # The exact deadline and the status are re-checked in the write: a confirm that landed after
    # the read wins.
    return _release_due(SweepReport("block_unconfirmed"), device_store.pending_due(now, get_settings().sweep_batch),
                        DeviceStatus.BLOCKED, "not confirmed in time", now, DeviceItem.confirm_by <= now,
                        notifications.DEVICE_BLOCKED)


def deactivate_silent(now: datetime) -> dict:
    """Devices not heard from for their ``silent_after_s`` become DEACTIVATED and give their
    instance back."""
    # Every check-in moves silent_due past now: if one landed after the read, the write fails.
    return _release_due(SweepReport("deactivate_silent"), device_store.silent_due(now, get_settings().sweep_batch),
                        DeviceStatus.DEACTIVATED, "silent", now, DeviceItem.silent_due <= int(now.timestamp()),
                        notifications.DEVICE_SILENT)


def _release_due(report: SweepReport, due, to: DeviceStatus, reason: str, now: datetime, only_if,
                 notice: str) -> dict:
    for holder in due:
        report.due += 1
        if device_store.release(holder, to, reason, now, only_if=only_if):
            report.acted += 1
            notifications.publish(notice, holder.tenant_id, device_id=holder.device_id, mac=holder.mac,
                                  lic_type_id=holder.lic_type_id)
        else:
            report.skipped += 1
    return report.publish()


TRIAL_WARNING = timedelta(days=7)


def expire_trials(now: datetime) -> dict:
    """Trials past their end become EXPIRED, contracts past their end leave the tenant
    UNLICENSED, and their devices are deactivated; trials seven days from their end are announced
    once. A tenant left without a license but with instances still held (an interrupted run) is
    finished too."""
    report = SweepReport("expire_trials")
    for tenant, warned in tenant_store.tenants_to_wind_down(now, TRIAL_WARNING):
        report.due += 1
        if tenant.state == TenantState.TRIAL and tenant.trial_expires_at > now:
            if not warned and tenant_store.mark_trial_warned(tenant.tenant_id):
                notifications.publish(notifications.TRIAL_ENDING, tenant.tenant_id, name=tenant.name,
                                      trial_expires_at=clock.rfc3339(tenant.trial_expires_at))
                report.acted += 1
            continue
        if tenant.state == TenantState.TRIAL:
            if not tenant_store.set_state(tenant.tenant_id, TenantState.EXPIRED, expected=TenantState.TRIAL):
                report.skipped += 1  # a contract arrived meanwhile
                continue
            events.record(tenant.tenant_id, "trial.expired", now)
            notifications.publish(notifications.TRIAL_EXPIRED, tenant.tenant_id, name=tenant.name)
        if tenant.state == TenantState.LICENSED:
            if not tenant_store.end_contract(tenant.tenant_id, now):
                report.skipped += 1  # renewed meanwhile
                continue
            events.record(tenant.tenant_id, "contract.ended", now, contract_id=tenant.contract_id)
        reason = {TenantState.TERMINATED: "contract terminated", TenantState.LICENSED: "contract ended",
                  TenantState.UNLICENSED: "contract ended"}.get(tenant.state, "trial expired")
        deactivate_all(tenant.tenant_id, reason, now)
        report.acted += 1
    return report.publish()


def meter_usage(now: datetime) -> dict:
    """Record the hour's instances in use per tenant and license type. Reads license types, not
    devices; the record's key is the tenant, the hour and the type, and the first reading of
    an hour stands, so metering an hour twice writes one record."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    report = SweepReport("meter_usage")
    for lic_type in tenant_store.all_license_types():
        report.due += 1
        if usage_store.record(lic_type, hour, now):
            report.acted += 1
        else:
            report.skipped += 1
    return report.publish()


SWEEPS = {f.__name__: f for f in (expire_trials, block_unconfirmed, deactivate_silent, meter_usage)}
