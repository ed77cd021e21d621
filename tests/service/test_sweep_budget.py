"""Sweeps bounded by the time they have: each run stops before its deadline, says so, and the
next run goes on; releases go in batches, their notifications ten to a PutEvents call.

Runs are invoked as Lambda invokes them (the app's handler, an EventBridge event, a Lambda
context) with a context whose clock moves one step each time it is read: a budget of steps, not
of wall-clock time. Backlogs are written straight into the tables with BatchWriteItem (copies
of what an activation writes), since 50,000 activations through the API would take minutes.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from chalice.local import LambdaContext

from bench.calls import CallLog
from bench.moto_scale import fast_transactions
from chalicelib.store import devices as device_store
from chalicelib.store.models import DUE_SHARDS
from tests.conftest import T0, scheduled_event

LAMBDA_TIMEOUT_MS = 30_000


class SteppedContext(LambdaContext):
    """Lambda's context for a 30 s function, whose time left drops ``step_ms`` each time it is
    read after the first: a run's budget is the number of steps it may start."""

    def __init__(self, name: str, step_ms: int) -> None:
        super().__init__(name, 512, max_runtime_ms=LAMBDA_TIMEOUT_MS)
        self._step_ms, self._reads = step_ms, 0

    def get_remaining_time_in_millis(self) -> float:
        self._reads += 1
        return LAMBDA_TIMEOUT_MS - self._step_ms * (self._reads - 1)


def invoke(name: str, at, *, step_ms: int = 0) -> dict:
    """One run of a scheduled function as Lambda gives it, each step taking ``step_ms``."""
    from app import app

    return app.handler_map[name](scheduled_event(at), SteppedContext(name, step_ms))


@pytest.fixture
def fleet(api, new_tenant):
    """A tenant under a contract as large as the fleet, with one license type of its size."""
    keys = new_tenant("Fleet", contract={"contract_id": "C-F", "capacity": 60_000, "starts_at": "2026-11-01T00:00:00Z"})
    keys.lic_type_id = api.post(
        "/v1/license-types", {"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": 60_000}, headers=keys.admin
    ).body["lic_type_id"]
    return keys


def seed_silent(keys, n: int, last_seen) -> list[str]:
    """``n`` ACTIVE devices of ``keys``' license type last heard from at ``last_seen``, with
    their MAC and address claims, and the pool's and tenant's ``in_use`` counting them: the
    items an activation, a confirm and a check-in write."""
    from chalicelib.store.models import ClaimItem, DeviceItem, LicenseTypeItem, TenantItem

    ids = []
    silent_after = 86_400
    rng = random.Random(n)
    with DeviceItem.batch_write() as devices, ClaimItem.batch_write() as claims:
        for i in range(n):
            device_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            mac = f"00:50:56:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
            ip, port = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", 443
            shard = device_store._shard(device_id)
            devices.save(
                DeviceItem(
                    device_id,
                    tenant_id=keys.tenant_id,
                    mac=mac,
                    ip=ip,
                    port=port,
                    sku="VLM-MAX-SPLA",
                    image="LoadMaster-VLM-7.2.47-SPLA.ova",
                    version="7.2.47",
                    lic_type_id=keys.lic_type_id,
                    status="ACTIVE",
                    credential_version=1,
                    activated_at=last_seen - timedelta(days=2),
                    confirm_by=last_seen - timedelta(days=1),
                    confirmed_at=last_seen - timedelta(days=2),
                    last_check_in_at=last_seen,
                    silent_after_s=silent_after,
                    silent_shard=f"S{shard}",
                    silent_due=device_store.silent_bucket_base(last_seen) + silent_after,
                    silent_at=int(last_seen.timestamp()) + silent_after,
                )
            )
            claim = {
                "tenant_id": keys.tenant_id,
                "device_id": device_id,
                "lic_type_id": keys.lic_type_id,
                "created_at": last_seen,
            }
            claims.save(ClaimItem(device_store.mac_claim(keys.tenant_id, mac), **claim))
            claims.save(ClaimItem(device_store.address_claim(keys.tenant_id, f"{ip}:{port}"), **claim))
            ids.append(device_id)
    LicenseTypeItem(keys.tenant_id, keys.lic_type_id).update([LicenseTypeItem.in_use.add(n)])
    TenantItem(keys.tenant_id).update([TenantItem.in_use.add(n)])
    return ids


@pytest.fixture
def published(monkeypatch):
    """Every PutEvents call the app makes, as the lists of entries it sent."""
    from chalicelib import notifications

    calls: list[list[dict]] = []

    class Recording:
        def put_events(self, Entries):
            calls.append(Entries)
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}

    monkeypatch.setattr(notifications, "_events", lambda: Recording())
    return calls


def _counts(api, keys) -> tuple[int, int]:
    tenant = api.get("/v1/license", headers=keys.admin).body["in_use"]
    pool = api.get("/v1/license-types", headers=keys.admin).body["license_types"][0]["in_use"]
    return tenant, pool


def _statuses(ids) -> Counter:
    from chalicelib.store.models import DeviceItem

    return Counter(i.status for i in DeviceItem.batch_get(ids))


# The budget ----------------------------------------------------------------------------------


def test_a_run_stops_when_its_budget_is_spent_says_so_and_the_next_run_goes_on(api, fleet, published):
    # Given 100 silent devices and runs whose budget lets them start two batches
    ids = seed_silent(fleet, 100, T0)
    at = T0 + timedelta(days=2)

    # When deactivate_silent runs until a run finds nothing left
    reports = []
    with fast_transactions():
        while not reports or reports[-1]["stopped_early"]:
            reports.append(invoke("deactivate_silent", at + timedelta(minutes=5 * len(reports)), step_ms=10_000))

    # Then each run but the last stopped early having released whole batches, and together they
    # released every device once
    assert len(reports) > 1
    assert all(r["acted"] == r["due"] and r["acted"] % device_store.RELEASE_BATCH == 0 for r in reports[:-1])
    assert sum(r["acted"] for r in reports) == 100 and not reports[-1]["stopped_early"]
    assert _statuses(ids) == {"DEACTIVATED": 100}
    assert _counts(api, fleet) == (0, 0)


def test_a_run_with_no_time_left_starts_nothing(api, fleet, published):
    seed_silent(fleet, 5, T0)

    report = invoke("deactivate_silent", T0 + timedelta(days=2), step_ms=LAMBDA_TIMEOUT_MS)

    assert (report["due"], report["acted"], report["stopped_early"]) == (0, 0, True)
    assert _counts(api, fleet) == (5, 5)
    assert published == []


def test_a_run_that_finishes_within_its_budget_does_not_say_it_stopped(api, fleet, published):
    seed_silent(fleet, 30, T0)

    report = invoke("deactivate_silent", T0 + timedelta(days=2))

    assert (report["due"], report["acted"], report["stopped_early"]) == (30, 30, False)


# Batches --------------------------------------------------------------------------------------


def test_releases_go_in_batches_of_24_and_notifications_ten_to_a_call(api, fleet, published):
    # Given a backlog of 1,000 silent devices of one pool
    seed_silent(fleet, 1_000, T0)

    # When one run releases them all
    with fast_transactions(), CallLog() as log:
        report = invoke("deactivate_silent", T0 + timedelta(days=2))

    # Then one transaction of 98 items per 24 devices, a query per page of each shard, and one
    # PutEvents per ten notifications
    transactions = [c for c in log.dynamodb() if c.operation == "TransactWriteItems"]
    per_device = len(log.dynamodb()) / report["acted"]
    print(
        f"deactivate_silent, 1,000 silent devices of one pool: {len(log.dynamodb())} DynamoDB calls "
        f"({len(transactions)} TransactWriteItems, {log.ops().count('Query')} Query), "
        f"{per_device:.3f} per released device; {len(published)} PutEvents"
    )
    assert report["acted"] == 1_000
    assert len(transactions) == math.ceil(1_000 / device_store.RELEASE_BATCH)
    assert max(len(c.params["TransactItems"]) for c in transactions) == 4 * device_store.RELEASE_BATCH + 2
    assert per_device < 0.1
    assert [len(entries) for entries in published] == [10] * 100
    assert _counts(api, fleet) == (0, 0)


def test_a_device_that_checks_in_during_the_batch_keeps_its_instance_and_the_others_go(
    api, trial_tenant, sweep, clock, monkeypatch, published
):
    # Given three silent devices, one of which checks in after the sweep read it
    from tests.service.test_sweeps import _check_in, _device

    devices = [_device(api, trial_tenant, n) for n in (1, 2, 3)]
    talking, headers = devices[1]
    at = T0 + timedelta(days=3)
    read_due = device_store.silent_due

    def check_in_after_the_read(now, limit):
        holders = list(read_due(now, limit))
        clock.set_now(at)
        assert _check_in(api, talking, headers, 2).status == 200
        yield from holders

    monkeypatch.setattr(device_store, "silent_due", check_in_after_the_read)

    # When the sweep releases them in one batch
    report = sweep("deactivate_silent", at)

    # Then the batch went without it: the two others are released, it keeps its instance
    assert (report["due"], report["acted"], report["skipped"]) == (3, 2, 1)
    assert [device_store.get_device(d).status for d, _ in devices] == ["DEACTIVATED", "ACTIVE", "DEACTIVATED"]
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 1
    assert sorted(json.loads(e["Detail"])["device_id"] for entries in published for e in entries) == sorted(
        [devices[0][0], devices[2][0]]
    )


def test_a_batch_refused_for_another_reason_releases_its_devices_one_by_one(
    api, trial_tenant, sweep, monkeypatch, published
):
    # Given three silent devices, one of which moved its address after the sweep read it
    from chalicelib.store.models import ClaimItem
    from tests.service.test_sweeps import _device

    devices = [_device(api, trial_tenant, n) for n in (1, 2, 3)]
    moved = devices[0][0]
    read_due = device_store.silent_due

    def address_moved_after_the_read(now, limit):
        holders = list(read_due(now, limit))
        moved_holder = next(h for h in holders if h.device_id == moved)
        old = ClaimItem.get(device_store.address_claim(trial_tenant.tenant_id, f"{moved_holder.ip}:443"))
        old.delete()
        ClaimItem(
            device_store.address_claim(trial_tenant.tenant_id, "10.9.9.9:443"),
            tenant_id=old.tenant_id,
            device_id=moved,
            lic_type_id=old.lic_type_id,
            created_at=old.created_at,
        ).save()
        from chalicelib.store.models import DeviceItem

        DeviceItem(moved).update([DeviceItem.ip.set("10.9.9.9")])
        yield from holders

    monkeypatch.setattr(device_store, "silent_due", address_moved_after_the_read)

    # When the sweep runs: the batch is refused (the address claim), and each goes alone
    report = sweep("deactivate_silent", T0 + timedelta(days=3))

    # Then every device is released once, the moved one from its new address
    assert (report["due"], report["acted"]) == (3, 3)
    assert {device_store.get_device(d).status for d, _ in devices} == {"DEACTIVATED"}
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 0
    assert ClaimItem.count() == 0


# Backlogs ------------------------------------------------------------------------------------


def test_a_backlog_drains_over_runs_stopped_by_their_budget_each_device_released_and_announced_once(
    api, fleet, published
):
    # Given 1,000 devices of one tenant fallen silent at once, and runs in which each step (a
    # batch of releases) takes 3 s of the 30: eight before the 5 s margin
    backlog = 1_000
    ids = seed_silent(fleet, backlog, T0)
    at = T0 + timedelta(days=2)

    # When deactivate_silent runs every five minutes until a run finishes its work
    reports = []
    with fast_transactions():
        while not reports or reports[-1]["stopped_early"]:
            reports.append(invoke("deactivate_silent", at + timedelta(minutes=5 * len(reports)), step_ms=3_000))

    # Then every run but the last stopped early after the same number of releases, and together
    # they released and announced each device once
    per_run = reports[0]["acted"]
    assert per_run == 8 * device_store.RELEASE_BATCH
    assert len(reports) == math.ceil(backlog / per_run)
    assert sum(r["acted"] for r in reports) == backlog and sum(r["skipped"] for r in reports) == 0
    assert _statuses(ids) == {"DEACTIVATED": backlog}
    assert _counts(api, fleet) == (0, 0)
    announced = Counter(json.loads(e["Detail"])["device_id"] for entries in published for e in entries)
    assert set(announced) == set(ids) and set(announced.values()) == {1}


class FleetInMemory:
    """The store operations of ``deactivate_silent`` over a fleet held in memory, with their
    DynamoDB semantics: the due index read a page at a time (entries as of the run's start: an
    index lags its table), each release conditional on the device still holding its instance
    (so exactly once), the pool counted down by the number released. moto takes about 30 s a
    run at 50,000 devices (its index queries sort the whole shard), so this is how 50,000 fit
    in a test; the store's own operations are the ones above, in moto."""

    def __init__(self, n: int) -> None:
        rng = random.Random(n)
        self.holders = [
            device_store.Holder(
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "t-fleet",
                "lt-fleet",
                f"mac-{i}",
                f"10.0.{i >> 8}.{i & 255}",
                443,
                "ACTIVE",
                1,
            )
            for i in range(n)
        ]
        self.holding = {h.device_id for h in self.holders}
        self.in_use = n
        self.attempts: Counter = Counter()
        self.transactions = 0

    def silent_due(self, now, limit):
        due = [h for h in self.holders if h.device_id in self.holding]
        yield from due[: limit * DUE_SHARDS]

    def release_all_if_due(self, holders, to, reason, now):
        self.transactions += math.ceil(len(holders) / device_store.RELEASE_BATCH)
        outcome = {}
        for h in holders:
            self.attempts[h.device_id] += 1
            released = h.device_id in self.holding
            self.holding.discard(h.device_id)
            self.in_use -= released
            outcome[h.device_id] = device_store.Released.RELEASED if released else device_store.Released.MOVED
        return outcome

    def defer_silent(self, holder, now):
        return False


def test_a_backlog_of_50000_silent_devices_drains_in_a_bounded_number_of_runs_each_released_once(
    api, published, monkeypatch
):
    # Given 50,000 devices fallen silent at once, and runs of 30 s in which each step (a batch of
    # releases) takes a second: 25 before the 5 s margin
    backlog = 50_000
    fleet = FleetInMemory(backlog)
    for operation in ("silent_due", "release_all_if_due", "defer_silent"):
        monkeypatch.setattr(device_store, operation, getattr(fleet, operation))
    at = T0 + timedelta(days=2)

    # When deactivate_silent runs every five minutes until a run finishes its work
    reports = []
    while not reports or reports[-1]["stopped_early"]:
        reports.append(invoke("deactivate_silent", at + timedelta(minutes=5 * len(reports)), step_ms=1_000))

    # Then it drained in as many runs as its budget allows, nothing attempted or announced twice
    per_run = reports[0]["acted"]
    print(
        f"50,000 silent devices: {len(reports)} runs of {per_run} releases ({per_run * 12} an hour at one "
        f"run every five minutes), {fleet.transactions} transactions, {len(published)} PutEvents"
    )
    assert per_run == 25 * device_store.RELEASE_BATCH
    assert len(reports) == math.ceil(backlog / per_run)
    assert sum(r["acted"] for r in reports) == backlog and sum(r["skipped"] for r in reports) == 0
    assert fleet.in_use == 0 and not fleet.holding
    assert set(fleet.attempts.values()) == {1}
    announced = Counter(json.loads(e["Detail"])["device_id"] for entries in published for e in entries)
    assert len(announced) == backlog and set(announced.values()) == {1}
    assert max(len(entries) for entries in published) == 10


def test_expire_trials_stops_between_tenants_and_the_next_run_goes_on(api, new_tenant, published):
    # Given three trials past their end, and runs whose budget lets them start one tenant each
    tenants = [new_tenant(name, trial={}) for name in ("One", "Two", "Three")]
    end = T0 + timedelta(days=30, minutes=1)

    # When expire_trials runs until a run finishes its work
    reports = []
    while not reports or reports[-1]["stopped_early"]:
        reports.append(invoke("expire_trials", end + timedelta(hours=len(reports)), step_ms=20_000))

    # Then each run expired one trial, and every trial is expired once
    assert [(r["acted"], r["stopped_early"]) for r in reports] == [(1, True), (1, True), (1, False)]
    assert {api.get("/v1/license", headers=keys.admin).body["state"] for keys in tenants} == {"EXPIRED"}
    assert sorted(json.loads(e["Detail"])["name"] for entries in published for e in entries) == ["One", "Three", "Two"]


def test_a_large_wind_down_stops_with_its_budget_and_the_next_run_finishes_it(api, new_tenant, published):
    # Given a contract that has ended with 60 devices still holding instances, and runs whose
    # budget lets them start a few releases each
    keys = new_tenant(
        "Ending",
        contract={
            "contract_id": "C-E",
            "capacity": 100,
            "starts_at": "2026-11-01T00:00:00Z",
            "ends_at": "2026-12-01T00:00:00Z",
        },
    )
    keys.lic_type_id = api.post(
        "/v1/license-types", {"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": 100}, headers=keys.admin
    ).body["lic_type_id"]
    ids = seed_silent(keys, 60, T0)
    end = T0.replace(year=2026, month=12, day=1, hour=0, minute=1)

    # When expire_trials runs hourly until a run finishes its work
    reports = []
    while not reports or reports[-1]["stopped_early"]:
        reports.append(invoke("expire_trials", end + timedelta(hours=len(reports)), step_ms=500))
        assert len(reports) < 20

    # Then the first run stopped within the wind-down, later runs went on, and every device was
    # deactivated once with the counts back to zero
    assert len(reports) > 1 and reports[0]["stopped_early"]
    assert _statuses(ids) == {"DEACTIVATED": 60}
    assert _counts(api, keys) == (0, 0)
    assert api.get("/v1/license", headers=keys.admin).body["state"] == "UNLICENSED"
