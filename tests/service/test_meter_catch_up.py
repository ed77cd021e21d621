"""meter_usage at five past every hour meters every hour since each license type's last metered
one: an hour missed (no run, a failed run, a run its budget stopped) is metered by the next run,
with the reading it has, flagged ``backfilled``; an hour is recorded once however often it runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.errors import Code, DomainError
from chalicelib.store import usage as usage_store
from chalicelib.store.models import UsageItem
from tests.conftest import T0, activate, first_type_id
from tests.service.test_sweep_budget import invoke


def _records(tenant_id) -> list[tuple[str, int, bool]]:
    return [(r.hour_type.split("#")[0][-2:], int(r.in_use), bool(r.backfilled)) for r in UsageItem.query(tenant_id)]


def _activate(api, keys, n):
    assert activate(api, keys, first_type_id(api, keys), mac=f"00:50:56:00:70:{n:02x}", ip=f"10.70.0.{n}").status == 201


def test_the_meter_runs_at_five_past_every_hour():
    from app import app

    (schedule,) = [s for s in app.event_sources if getattr(s, "name", None) == "meter_usage"]

    assert schedule.schedule_expression.to_string() == "cron(5 * * * ? *)"


def test_a_type_never_metered_starts_with_the_hour_under_way(api, trial_tenant):
    report = invoke("meter_usage", T0 + timedelta(minutes=5))

    assert (report["acted"], report["backfilled"]) == (1, 0)
    assert _records(trial_tenant.tenant_id) == [("20", 0, False)]


def test_a_missed_hour_is_metered_by_the_next_run_with_its_reading_and_flagged_backfilled(api, trial_tenant, clock):
    # Given the 20:05 run metered one instance, then the 21:05 run never happened
    _activate(api, trial_tenant, 1)
    invoke("meter_usage", T0 + timedelta(minutes=5))
    clock.set_now(T0 + timedelta(hours=1, minutes=30))
    _activate(api, trial_tenant, 2)
    _activate(api, trial_tenant, 3)

    # When the 22:05 run meters
    report = invoke("meter_usage", T0 + timedelta(hours=2, minutes=5))

    # Then 21:00 is metered with the only reading there is, 22:05's, and says so
    assert (report["acted"], report["backfilled"], report["stopped_early"]) == (2, 1, False)
    assert _records(trial_tenant.tenant_id) == [("20", 1, False), ("21", 3, True), ("22", 3, False)]


def test_a_run_twice_in_an_hour_or_replayed_later_writes_one_record_per_hour(api, trial_tenant, clock):
    at = T0 + timedelta(minutes=5)
    first = invoke("meter_usage", at)
    _activate(api, trial_tenant, 1)

    again = invoke("meter_usage", at)
    later_in_the_hour = invoke("meter_usage", at + timedelta(minutes=40))
    next_hour = invoke("meter_usage", at + timedelta(hours=1))
    replayed = invoke("meter_usage", at)

    assert [r["acted"] for r in (first, again, later_in_the_hour, next_hour, replayed)] == [1, 0, 0, 1, 0]
    assert _records(trial_tenant.tenant_id) == [("20", 0, False), ("21", 1, False)]


def test_a_run_failing_midway_loses_nothing_the_next_run_completes_it(api, new_tenant, monkeypatch):
    # Given two tenants' license types metered at 20:05
    tenants = [new_tenant(name, trial={}) for name in ("One", "Two")]
    invoke("meter_usage", T0 + timedelta(minutes=5))
    record = usage_store.record
    written = []

    def failing_after_the_first(lic_type, hour, now, **kw):
        if written:
            raise DomainError(Code.UNAVAILABLE)
        written.append(hour)
        return record(lic_type, hour, now, **kw)

    # When the 22:05 run fails after writing one record, and the 23:05 run goes normally
    monkeypatch.setattr(usage_store, "record", failing_after_the_first)
    with pytest.raises(DomainError):
        invoke("meter_usage", T0 + timedelta(hours=2, minutes=5))
    monkeypatch.setattr(usage_store, "record", record)
    report = invoke("meter_usage", T0 + timedelta(hours=3, minutes=5))

    # Then each type has each hour once: the hour the failed run wrote is not written again
    assert report["acted"] + len(written) == 2 * 3
    for keys in tenants:
        assert [h for h, _, _ in _records(keys.tenant_id)] == ["20", "21", "22", "23"]


def test_the_budget_stops_the_catch_up_and_the_next_run_resumes_where_it_stopped(api, trial_tenant):
    # Given a type metered at 20:05 and no run for ten hours
    invoke("meter_usage", T0 + timedelta(minutes=5))
    at = T0 + timedelta(hours=10, minutes=5)

    # When the next runs have a budget of five hours each (5 s an hour, of 30 s less the 5 s margin)
    runs = [invoke("meter_usage", at, step_ms=5_000)]
    while runs[-1]["stopped_early"]:
        runs.append(invoke("meter_usage", at, step_ms=5_000))

    # Then they metered the ten hours between them, each once, the missed ones flagged
    assert [r["acted"] for r in runs] == [5, 5]
    records = _records(trial_tenant.tenant_id)
    assert [h for h, _, _ in records] == [f"{h % 24:02d}" for h in range(20, 31)]
    assert [b for _, _, b in records] == [False] + [True] * 9 + [False]
