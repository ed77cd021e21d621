"""The scheduled compliance sweeps and the hourly meter.

Each takes "now" from its event, reads only what is due (sparse, sharded indexes; never a scan
of devices), writes each change conditionally on the state it read, and can run twice or
concurrently with itself and with check-ins: a device that checks in while a sweep looks at it
stays active, and every instance is released exactly once.

Each run has a budget (``chalicelib.budget``): it starts no new step once the budget is spent,
says so (``stopped_early``), and the next run goes on from what is still due. The releases go in
batches (``device_store.release_all_if_due``): up to ``RELEASE_BATCH`` devices in one
TransactWriteItems, each device's release still conditional on the state it was read in, its
pool and tenant counted down once per batch. Measured on a 1,000-device backlog of one pool
(``tests/service/test_sweep_budget.py``): 1.008 DynamoDB calls per released device before (a
transaction each, and the due index's queries), 0.058 after (one transaction per 24 devices),
and one PutEvents per ten notifications instead of one each. Batching the writes, not only the
reads and the notifications, is what lets a large fleet fallen silent at once drain: one
transaction per device is one update of the same tenant and pool item per device, which
DynamoDB serialises (and which conflicts with the tenant's activations); one per batch is 24
times fewer. A batch
refused because some of its devices moved (a check-in, a confirm) is tried again without them;
any other refusal sends its devices one by one, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from chalicelib import clock, notifications
from chalicelib.budget import Budget
from chalicelib.domain.model import DeviceStatus, TenantState
from chalicelib.observability import logger
from chalicelib.services.reports import SweepReport
from chalicelib.services.tenants import promote_due_contract, wind_down
from chalicelib.settings import get_settings
from chalicelib.store import devices as device_store
from chalicelib.store import events
from chalicelib.store import tenants as tenant_store
from chalicelib.store import usage as usage_store


def block_unconfirmed(now: datetime, budget: Budget) -> dict:
    """PENDING devices past ``confirm_by`` become BLOCKED and give their instance back (seed:
    "Block unconfirmed local license activation after")."""
    # The exact deadline and the status are re-checked in the write: a confirm that landed after
    # the read wins.
    return _release_due(
        SweepReport("block_unconfirmed"),
        device_store.pending_due(now, get_settings().sweep_batch),
        DeviceStatus.BLOCKED,
        "not confirmed in time",
        now,
        notifications.DEVICE_BLOCKED,
        budget,
    )


def deactivate_silent(now: datetime, budget: Budget) -> dict:
    """Devices not heard from for their ``silent_after_s`` become DEACTIVATED and give their
    instance back, within one sweep period of that moment and never before it (a backlog larger
    than one run's budget: within the runs it takes)."""
    # Every check-in moves silent_at past now: if one landed after the read, the write fails. A
    # device the index found early (its bucket rounds down) is deferred to its exact deadline.
    return _release_due(
        SweepReport("deactivate_silent"),
        device_store.silent_due(now, get_settings().sweep_batch),
        DeviceStatus.DEACTIVATED,
        "silent",
        now,
        notifications.DEVICE_SILENT,
        budget,
        on_skip=device_store.defer_silent,
    )


def _release_due(
    report: SweepReport,
    due: Iterator[device_store.Holder],
    to: DeviceStatus,
    reason: str,
    now: datetime,
    notice: str,
    budget: Budget,
    on_skip=None,
) -> dict:
    with notifications.Outbox() as outbox:
        while batch := list(islice(due, device_store.RELEASE_BATCH)):
            if not budget.left():
                report.stopped_early = True
                break
            report.due += len(batch)
            outcome = device_store.release_all_if_due(batch, to, reason, now)
            for holder in batch:
                if outcome[holder.device_id] == device_store.Released.RELEASED:
                    report.acted += 1
                    outbox.add(
                        notice,
                        holder.tenant_id,
                        device_id=holder.device_id,
                        mac=holder.mac,
                        lic_type_id=holder.lic_type_id,
                    )
                else:
                    report.skipped += 1
                    if on_skip is not None:
                        on_skip(holder, now)
    return report.publish()


TRIAL_WARNING = timedelta(days=7)


def expire_trials(now: datetime, budget: Budget) -> dict:
    """Contracts sold to start by now are put in force; trials past their end become EXPIRED,
    contracts past their end leave the tenant UNLICENSED, and their devices are deactivated for
    as long as the tenant stays so (a renewal mid-run keeps the rest); trials seven days from
    their end are announced once. A tenant left without a license but with instances still held
    (an interrupted run) is finished too. One tenant's failure does not stop the others'."""
    report = SweepReport("expire_trials")
    for tenant, warned in tenant_store.tenants_to_wind_down(now, TRIAL_WARNING):
        if not budget.left():
            report.stopped_early = True
            break
        report.due += 1
        try:
            report.acted += _expire(tenant, warned, now, budget)
        except Exception:
            # Logged with its tenant and retried at the next run; the others go on.
            logger.exception("expire_trials failed for a tenant", extra={"tenant_id": tenant.tenant_id})
            report.skipped += 1
    # A wind-down the budget cut short leaves its tenant holding instances: the next run goes on.
    report.stopped_early = report.stopped_early or budget.spent
    return report.publish()


def _expire(tenant, warned: bool, now: datetime, budget: Budget) -> int:
    if tenant.next_contract_due(now):
        tenant = promote_due_contract(tenant, now)
    if tenant.state == TenantState.TRIAL and tenant.trial_expires_at > now:
        if not warned and tenant_store.mark_trial_warned(tenant.tenant_id):
            notifications.publish(
                notifications.TRIAL_ENDING,
                tenant.tenant_id,
                name=tenant.name,
                trial_expires_at=clock.rfc3339(tenant.trial_expires_at),
            )
            return 1
        return 0
    if tenant.state == TenantState.TRIAL:
        if not tenant_store.set_state(tenant.tenant_id, TenantState.EXPIRED, expected=TenantState.TRIAL):
            return 0  # a contract arrived meanwhile
        events.record(tenant.tenant_id, "trial.expired", now)
        notifications.publish(notifications.TRIAL_EXPIRED, tenant.tenant_id, name=tenant.name)
        state = TenantState.EXPIRED
    elif tenant.state == TenantState.LICENSED:
        if tenant.contract_ends_at is None or tenant.contract_ends_at > now:
            return 0  # in force (renewed, or put in force just now)
        if not tenant_store.end_contract(tenant.tenant_id, now):
            return 0  # renewed meanwhile
        events.record(tenant.tenant_id, "contract.ended", now, contract_id=tenant.contract_id)
        state = TenantState.UNLICENSED
    elif tenant.in_use > 0:
        state = tenant.state  # finish an interrupted wind-down
    else:
        return 0
    reason = {TenantState.TERMINATED: "contract terminated", TenantState.UNLICENSED: "contract ended"}.get(
        state, "trial expired"
    )
    wind_down(tenant.tenant_id, state, reason, now, budget)
    return 1


@dataclass
class MeterReport(SweepReport):
    backfilled: int = 0  # hours missed, given the reading of this run

    def metrics(self) -> dict[str, int]:
        return {**super().metrics(), "Backfilled": self.backfilled}


def meter_usage(now: datetime, budget: Budget) -> dict:
    """Record the instances in use per tenant and license type for every hour from the one after
    the type was last metered through this one, so an hour a run missed (it failed, was late,
    or its budget stopped it) is metered by the next. The reading is the one there is, now's:
    the hour under way is given it, and an hour missed is too, flagged ``backfilled``. A type
    never metered starts with this hour. Reads license types, not devices; the record's key is
    the tenant, the hour and the type, and the first reading of an hour stands, so metering an
    hour twice writes one record. ``due``: the types read; ``acted``: the hours recorded;
    ``skipped``: the hours found metered already."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    report = MeterReport("meter_usage")
    for lic_type, through in usage_store.license_types_to_meter():
        report.due += 1
        if through is not None and through >= hour:
            report.skipped += 1
            continue
        at = hour if through is None else through + timedelta(hours=1)
        metered = None
        while at <= hour:
            if not budget.left():
                report.stopped_early = True
                break
            backfilled = at < hour
            if usage_store.record(lic_type, at, now, backfilled=backfilled):
                report.acted += 1
                report.backfilled += backfilled
            else:
                report.skipped += 1
            metered, at = at, at + timedelta(hours=1)
        if metered is not None:
            usage_store.mark_metered(lic_type, metered)
        if report.stopped_early:
            break
    return report.publish()
