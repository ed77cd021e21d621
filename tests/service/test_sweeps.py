"""The scheduled functions, driven by events carrying chosen times."""

from datetime import timedelta

import pytest

from bench.calls import CallLog
from chalicelib.store import devices as device_store
from chalicelib.store.models import UsageItem
from tests.conftest import T0, activate, first_type_id, lm


def _device(api, keys, n=1, confirm=True):
    granted = activate(api, keys, first_type_id(api, keys), mac=f"00:50:56:00:00:{n:02x}", ip=f"10.0.0.{n}").body
    headers = {"Authorization": f"Device {granted['device_token']}"}
    if confirm:
        assert api.post(f"/v1/devices/{granted['device_id']}/confirm", headers=headers).status == 200
    return granted["device_id"], headers


def _check_in(api, device_id, headers, n=1):
    body = {"mac": f"00:50:56:00:00:{n:02x}", "ip": f"10.0.0.{n}", "port": 443, "version": "7.2.48"}
    return api.post(f"/v1/devices/{device_id}/check-ins", body, headers=headers)


def _status(device_id):
    return device_store.get_device(device_id).status


def _in_use(api, keys):
    return api.get("/v1/license", headers=keys.admin).body["in_use"]


# block_unconfirmed --------------------------------------------------------------------------


def test_unconfirmed_device_is_blocked_after_the_window_and_releases_its_instance(api, trial_tenant, sweep):
    pending, _ = _device(api, trial_tenant, 1, confirm=False)
    confirmed, _ = _device(api, trial_tenant, 2)

    early = sweep("block_unconfirmed", T0 + timedelta(hours=23))
    late = sweep("block_unconfirmed", T0 + timedelta(hours=24, minutes=5))
    again = sweep("block_unconfirmed", T0 + timedelta(hours=24, minutes=10))

    assert (early["due"], early["acted"]) == (0, 0)
    assert (late["due"], late["acted"]) == (1, 1)
    assert (again["due"], again["acted"]) == (0, 0)
    assert _status(pending) == "BLOCKED"
    assert _status(confirmed) == "ACTIVE"
    assert _in_use(api, trial_tenant) == 1


def test_blocked_mac_is_refused_everywhere_until_unblocked(api, trial_tenant, sweep):
    pending, headers = _device(api, trial_tenant, 1, confirm=False)
    sweep("block_unconfirmed", T0 + timedelta(days=2))

    listing = api.post("/v1/activation/license-types", lm(mac="00:50:56:00:00:01"), headers=trial_tenant.loadmaster)
    again = activate(api, trial_tenant, first_type_id(api, trial_tenant), mac="00:50:56:00:00:01", ip="10.0.0.1")
    confirm = api.post(f"/v1/devices/{pending}/confirm", headers=headers)

    assert {r.code for r in (listing, again, confirm)} == {"DEVICE_BLOCKED"}


# deactivate_silent ----------------------------------------------------------------------------


def test_silent_device_is_deactivated_and_one_that_checks_in_is_kept(api, trial_tenant, sweep, clock):
    silent, _ = _device(api, trial_tenant, 1)
    talking, headers = _device(api, trial_tenant, 2)
    for hours in range(1, 48):
        clock.set_now(T0 + timedelta(hours=hours))
        assert _check_in(api, talking, headers, 2).status == 200

    report = sweep("deactivate_silent", T0 + timedelta(hours=48))
    again = sweep("deactivate_silent", T0 + timedelta(hours=48, minutes=5))

    assert (report["due"], report["acted"]) == (1, 1)
    assert (again["due"], again["acted"]) == (0, 0)
    assert _status(silent) == "DEACTIVATED"
    assert _status(talking) == "ACTIVE"
    assert _in_use(api, trial_tenant) == 1


def test_device_is_not_deactivated_before_it_has_been_silent_for_silent_after(api, trial_tenant, sweep):
    device_id, _ = _device(api, trial_tenant, 1)

    report = sweep("deactivate_silent", T0 + timedelta(hours=23, minutes=59))

    assert report["acted"] == 0
    assert _status(device_id) == "ACTIVE"


@pytest.mark.parametrize("minutes_after_the_hour", [0, 7, 59])
def test_silent_device_is_deactivated_within_one_sweep_period_of_its_deadline(
    api, trial_tenant, sweep, clock, minutes_after_the_hour
):
    # Given a LoadMaster last heard from at some minute of the day (its due bucket rounds down)
    clock.set_now(T0 + timedelta(minutes=minutes_after_the_hour))
    device_id, headers = _device(api, trial_tenant, 1)
    assert _check_in(api, device_id, headers).status == 200
    deadline = T0 + timedelta(minutes=minutes_after_the_hour, hours=24)

    # When the sweep runs every five minutes from before its deadline (the index has it due early)
    at, released_at = deadline - timedelta(hours=1), None
    while released_at is None and at <= deadline + timedelta(hours=13):
        if sweep("deactivate_silent", at)["acted"]:
            released_at = at
        at += timedelta(minutes=5)

    # Then it is released at the first sweep at or after its deadline: never before, never later
    assert released_at is not None and deadline <= released_at < deadline + timedelta(minutes=5)
    assert _status(device_id) == "DEACTIVATED"


def test_a_device_found_before_its_deadline_is_read_again_only_at_its_deadline(api, trial_tenant, sweep):
    _device(api, trial_tenant, 1)

    early = sweep("deactivate_silent", T0 + timedelta(hours=23))
    later = sweep("deactivate_silent", T0 + timedelta(hours=23, minutes=55))

    assert (early["due"], early["acted"]) == (1, 0)
    assert later["due"] == 0


def test_check_in_landing_between_the_sweeps_read_and_write_keeps_the_device(
    api, trial_tenant, sweep, clock, monkeypatch
):
    device_id, headers = _device(api, trial_tenant, 1)
    at = T0 + timedelta(days=3)
    read_due = device_store.silent_due

    def check_in_after_the_read(now, limit):
        for holder in read_due(now, limit):
            clock.set_now(at)
            assert _check_in(api, holder.device_id, headers).status == 200
            yield holder

    monkeypatch.setattr(device_store, "silent_due", check_in_after_the_read)

    report = sweep("deactivate_silent", at)

    assert (report["due"], report["acted"], report["skipped"]) == (1, 0, 1)
    assert _status(device_id) == "ACTIVE"
    assert _in_use(api, trial_tenant) == 1


def test_confirm_landing_between_the_block_sweeps_read_and_write_wins(api, trial_tenant, sweep, monkeypatch):
    device_id, _ = _device(api, trial_tenant, 1, confirm=False)
    read_due = device_store.pending_due

    def confirm_after_the_read(now, limit):
        for holder in read_due(now, limit):
            from chalicelib.store.models import DeviceItem

            # The LoadMaster confirmed just before its deadline; the sweep read it a moment late.
            DeviceItem(holder.device_id).update(
                actions=[DeviceItem.status.set("ACTIVE"), DeviceItem.pending_shard.remove()]
            )
            yield holder

    monkeypatch.setattr(device_store, "pending_due", confirm_after_the_read)

    report = sweep("block_unconfirmed", T0 + timedelta(days=2))

    assert (report["acted"], report["skipped"]) == (0, 1)
    assert _status(device_id) == "ACTIVE"
    assert _in_use(api, trial_tenant) == 1


def test_two_sweeps_racing_release_each_instance_once(api, trial_tenant, sweep, monkeypatch):
    for n in range(1, 4):
        _device(api, trial_tenant, n)
    at = T0 + timedelta(days=3)
    read_due = device_store.silent_due
    # The first sweep's reads are held until a second sweep has done all its work.
    first_reads = list(read_due(at, 100))
    second = sweep("deactivate_silent", at)
    monkeypatch.setattr(device_store, "silent_due", lambda now, limit: iter(first_reads))

    first = sweep("deactivate_silent", at)

    assert second["acted"] == 3
    assert (first["acted"], first["skipped"]) == (0, 3)
    assert _in_use(api, trial_tenant) == 0
    assert api.get("/v1/license-types", headers=trial_tenant.admin).body["license_types"][0]["in_use"] == 0


# expire_trials --------------------------------------------------------------------------------


def test_trial_past_its_end_expires_and_its_devices_are_deactivated(api, trial_tenant, sweep, clock):
    device_id, _ = _device(api, trial_tenant, 1)
    end = T0 + timedelta(days=30, minutes=1)

    report = sweep("expire_trials", end)
    again = sweep("expire_trials", end + timedelta(hours=1))
    clock.set_now(end)
    refused = activate(api, trial_tenant, first_type_id(api, trial_tenant), mac="00:50:56:00:00:09")

    assert (report["due"], report["acted"]) == (1, 1)
    assert again["due"] == 0
    assert api.get("/v1/license", headers=trial_tenant.admin).body["state"] == "EXPIRED"
    assert _status(device_id) == "DEACTIVATED"
    assert _in_use(api, trial_tenant) == 0
    assert refused.status == 403 and refused.body["error"]["message"] == "Trial has Expired."


def test_trial_not_yet_ended_is_left_alone(api, trial_tenant, sweep):
    _device(api, trial_tenant, 1)

    report = sweep("expire_trials", T0 + timedelta(days=22))

    assert report["due"] == 0
    assert api.get("/v1/license", headers=trial_tenant.admin).body["state"] == "TRIAL"


# meter_usage ----------------------------------------------------------------------------------


def test_meter_records_each_hour_per_license_type_once(api, trial_tenant, sweep):
    _device(api, trial_tenant, 1)
    _device(api, trial_tenant, 2)

    first = sweep("meter_usage", T0 + timedelta(minutes=1))
    twice = sweep("meter_usage", T0 + timedelta(minutes=30))
    next_hour = sweep("meter_usage", T0 + timedelta(hours=1, minutes=1))

    records = list(UsageItem.query(trial_tenant.tenant_id))
    assert (first["acted"], twice["acted"], twice["skipped"], next_hour["acted"]) == (1, 0, 1, 1)
    assert [(r.hour_type.split("#")[0], int(r.in_use), int(r.capacity)) for r in records] == [
        ("2026-11-28T20", 2, 5),
        ("2026-11-28T21", 2, 5),
    ]


def test_meter_reads_license_types_not_devices(api, trial_tenant, sweep):
    for n in range(1, 5):
        _device(api, trial_tenant, n)

    with CallLog() as log:
        sweep("meter_usage", T0)

    assert "license-types" in {call.table for call in log.calls}
    assert "devices" not in {call.table for call in log.calls}


def test_a_contract_past_its_end_leaves_the_tenant_unlicensed_and_its_devices_deactivated(
    api, new_tenant, sweep, clock
):
    keys = new_tenant(
        "Ending",
        contract={
            "contract_id": "C-E",
            "capacity": 5,
            "starts_at": "2026-11-01T00:00:00Z",
            "ends_at": "2026-12-01T00:00:00Z",
        },
    )
    keys.lic_type_id = api.post(
        "/v1/license-types", {"name": "M", "sku": "VLM-MAX-SPLA", "capacity": 5}, headers=keys.admin
    ).body["lic_type_id"]
    device = activate(api, keys, keys.lic_type_id).body

    before = sweep("expire_trials", "2026-11-30T23:00:00Z")
    after = sweep("expire_trials", "2026-12-01T01:00:00Z")
    clock.set_now(T0 + timedelta(days=3))

    assert before["due"] == 0 and after["acted"] == 1
    assert api.get("/v1/license", headers=keys.admin).body["state"] == "UNLICENSED"
    assert _status(device["device_id"]) == "DEACTIVATED"
    assert api.get("/v1/license", headers=keys.admin).body["in_use"] == 0
    assert activate(api, keys, keys.lic_type_id, mac="00:50:56:00:00:77").code == "CENTRAL_UNLICENSED"


def test_a_contract_renewed_before_its_end_is_left_alone(api, new_tenant, sweep):
    from tests.conftest import operator_headers

    contract = {
        "contract_id": "C-R",
        "capacity": 5,
        "starts_at": "2026-11-01T00:00:00Z",
        "ends_at": "2026-12-01T00:00:00Z",
    }
    keys = new_tenant("Renewing", contract=contract)
    api.post(
        f"/v1/tenants/{keys.tenant_id}/contracts",
        {**contract, "contract_id": "C-R2", "ends_at": "2027-12-01T00:00:00Z"},
        headers=operator_headers(),
    )

    report = sweep("expire_trials", "2026-12-01T01:00:00Z")

    assert report["due"] == 0
    assert api.get("/v1/license", headers=keys.admin).body["state"] == "LICENSED"
