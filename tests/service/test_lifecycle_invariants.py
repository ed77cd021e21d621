"""Issue 11: the invariants across the whole lifecycle, not only activation (DESIGN.md 7-9), with
the interleavings forced in process: a write lands between another's read and its write."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.store import devices as device_store
from chalicelib.store import tenants as tenant_store
from tests.conftest import T0, activate, first_type_id, lm, operator_headers

OP = operator_headers()


def _contract(api, keys, capacity, **dates):
    body = {"contract_id": f"C-{capacity}", "capacity": capacity, "starts_at": "2026-11-01T00:00:00Z", **dates}
    return api.post(f"/v1/tenants/{keys.tenant_id}/contracts", body, headers=OP)


def _pools(api, keys) -> list[dict]:
    return api.get("/v1/license-types", headers=keys.admin).body["license_types"]


def _pool(api, keys, capacity, name="Max", sku="VLM-MAX-SPLA"):
    return api.post("/v1/license-types", {"name": name, "sku": sku, "capacity": capacity}, headers=keys.admin)


def _holding(api, keys) -> list[dict]:
    devices, cursor = [], None
    while True:
        page = api.get("/v1/devices?limit=100" + (f"&next={cursor}" if cursor else ""), headers=keys.admin).body
        devices += [d for d in page["devices"] if d["status"] in ("PENDING", "ACTIVE")]
        cursor = page.get("next")
        if not cursor:
            return devices


def _after_first_call(monkeypatch, module, name: str, other) -> list:
    """Run ``other`` (another request) once, right after the first call of ``module.name`` has
    read what it reads and before its caller writes: the interleaving a race would give. The
    list receives ``other``'s answer; ``other`` itself runs undisturbed."""
    original = getattr(module, name)
    answers: list = []

    def then_the_other(*args, **kwargs):
        result = original(*args, **kwargs)
        if not answers:
            answers.append(None)
            answers[0] = other()
        return result

    monkeypatch.setattr(module, name, then_the_other)
    return answers


def _device_headers(granted) -> dict:
    return {"Authorization": f"Device {granted['device_token']}"}


# Invariant 7: the pools never promise more than the contract --------------------------------


def test_a_pool_created_between_anothers_read_and_write_cannot_multiply_the_contract(api, new_tenant, monkeypatch):
    # Given a 10-instance contract, and a pool of 10 created by another request right after this
    # request read the tenant's pools (the sum it checks is then stale)
    keys = new_tenant(contract={"contract_id": "C-10", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"})
    interleaved = _after_first_call(
        monkeypatch, tenant_store, "list_license_types", lambda: _pool(api, keys, 10, name="Other")
    )

    # When this request creates its own pool of 10
    reply = _pool(api, keys, 10)

    # Then the write saw the other pool: refused, and the pools still fit the contract
    assert interleaved[0].status == 201
    assert (reply.status, reply.code) == (409, "CONFLICT")
    monkeypatch.undo()
    assert sum(p["capacity"] for p in _pools(api, keys)) == 10
    assert api.get("/v1/license", headers=keys.admin).body["allocated"] == 10


def test_a_patch_racing_a_smaller_renewal_leaves_the_pools_within_the_contract(api, new_tenant, monkeypatch):
    keys = new_tenant(contract={"contract_id": "C-10", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"})
    lic_type_id = _pool(api, keys, 4).body["lic_type_id"]
    renewed = _after_first_call(monkeypatch, tenant_store, "list_license_types", lambda: _contract(api, keys, 6))

    reply = api.patch(f"/v1/license-types/{lic_type_id}", {"capacity": 10}, headers=keys.admin)

    monkeypatch.undo()
    assert renewed[0].status == 201
    assert (reply.status, reply.code) == (409, "CONFLICT")
    assert [p["capacity"] for p in _pools(api, keys)] == [4]


def test_a_renewal_to_less_than_the_pools_promise_shrinks_them_to_what_they_hold(api, new_tenant):
    keys = new_tenant(contract={"contract_id": "C-10", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"})
    lic_type_id = _pool(api, keys, 10).body["lic_type_id"]
    for n in range(3):
        assert activate(api, keys, lic_type_id, mac=f"00:50:56:00:00:{n:02x}", ip=f"10.0.0.{n}").status == 201

    renewed = _contract(api, keys, 5)

    assert renewed.status == 201
    assert [(p["capacity"], p["in_use"]) for p in _pools(api, keys)] == [(3, 3)]
    assert api.get("/v1/license", headers=keys.admin).body["allocated"] == 3


def test_a_tenant_may_have_at_most_the_configured_number_of_license_types(api, new_tenant, monkeypatch):
    from chalicelib.services import tenants as tenant_service

    settings = tenant_service.get_settings().model_copy(update={"max_license_types_per_tenant": 2})
    monkeypatch.setattr(tenant_service, "get_settings", lambda: settings)
    keys = new_tenant(contract={"contract_id": "C-10", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"})
    assert _pool(api, keys, 0, name="a").status == 201
    assert _pool(api, keys, 0, name="b").status == 201

    third = _pool(api, keys, 0, name="c")

    assert (third.status, third.code) == (409, "CONFLICT")
    assert "at most 2 license types" in third.body["error"]["message"]


# Contract windows ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dates, field",
    [
        ({"ends_at": "2026-10-01T00:00:00Z"}, "ends_at"),  # before starts_at
        ({"ends_at": "2026-11-20T00:00:00Z"}, "ends_at"),  # already over
    ],
)
def test_a_contract_must_end_after_it_starts_and_in_the_future(api, new_tenant, dates, field):
    keys = new_tenant(trial={})

    reply = _contract(api, keys, 10, **dates)

    assert (reply.status, reply.code) == (400, "VALIDATION_ERROR")
    assert field in reply.body["error"]["detail"]["fields"]
    assert api.get("/v1/license", headers=keys.admin).body["state"] == "TRIAL"


def test_a_contract_sold_to_start_later_licenses_nothing_before_its_start(api, new_tenant, clock, sweep):
    # Given a tenant on trial, sold a contract that starts in three days
    keys = new_tenant(trial={})
    starts = T0 + timedelta(days=3)
    scheduled = _contract(api, keys, 50, starts_at=starts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert scheduled.status == 201
    assert scheduled.body["state"] == "TRIAL" and scheduled.body["next_contract"]["capacity"] == 50

    # Then until then it keeps its trial and its limit of five
    lic_type_id = first_type_id(api, keys)
    granted = [
        activate(api, keys, lic_type_id, mac=f"00:50:56:00:00:{n:02x}", ip=f"10.0.0.{n}").status for n in range(6)
    ]
    assert granted == [201] * 5 + [409]

    # And from its start the tenant is LICENSED, as seen before anything records it
    clock.set_now(starts)
    license = api.get("/v1/license", headers=keys.admin).body
    assert (license["state"], license["capacity"], license["contract_id"]) == ("LICENSED", 50, "C-50")
    # the hourly sweep puts it in force; the trial's devices keep their instances
    sweep("expire_trials", starts + timedelta(minutes=1))
    stored = api.get(f"/v1/tenants/{keys.tenant_id}", headers=OP).body
    assert (stored["state"], stored["in_use"], stored["next_contract"]) == ("LICENSED", 5, None)
    assert api.patch(f"/v1/license-types/{lic_type_id}", {"capacity": 50}, headers=keys.admin).status == 200
    assert activate(api, keys, lic_type_id, mac="00:50:56:00:00:99", ip="10.0.0.99").status == 201


def test_the_first_activation_after_a_scheduled_start_puts_the_contract_in_force(api, new_tenant, clock):
    keys = new_tenant()
    starts = T0 + timedelta(days=1)
    _contract(api, keys, 10, starts_at=starts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert _pool(api, keys, 0).status == 201
    clock.set_now(starts)
    lic_type_id = first_type_id(api, keys)
    assert api.patch(f"/v1/license-types/{lic_type_id}", {"capacity": 10}, headers=keys.admin).status == 409

    reply = activate(api, keys, lic_type_id)

    # The pool offered nothing yet (capacity 0), but the tenant is licensed: the refusal is the pool's.
    assert reply.code == "INSTANCE_LIMIT_REACHED"
    assert api.get(f"/v1/tenants/{keys.tenant_id}", headers=OP).body["state"] == "LICENSED"
    assert api.patch(f"/v1/license-types/{lic_type_id}", {"capacity": 10}, headers=keys.admin).status == 200
    assert activate(api, keys, lic_type_id).status == 201


# Invariant 8: wind-downs stop when their reason is gone; releases survive an address move ------


def test_a_renewal_landing_mid_wind_down_keeps_every_remaining_device(api, new_tenant, sweep, monkeypatch):
    # Given an expired trial whose five devices the hourly sweep is deactivating
    keys = new_tenant(trial={"days": 1})
    lic_type_id = first_type_id(api, keys)
    for n in range(5):
        assert activate(api, keys, lic_type_id, mac=f"00:50:56:00:00:{n:02x}", ip=f"10.0.0.{n}").status == 201
    release = device_store.release
    calls = []

    def renewal_after_two_releases(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            assert _contract(api, keys, 20).status == 201
        return release(*args, **kwargs)

    monkeypatch.setattr(device_store, "release", renewal_after_two_releases)

    # When a contract lands after two devices were released
    sweep("expire_trials", T0 + timedelta(days=2))

    # Then the wind-down stopped there: the paying tenant keeps the other three
    license = api.get("/v1/license", headers=keys.admin).body
    assert (license["state"], license["in_use"]) == ("LICENSED", 3)
    assert len(_holding(api, keys)) == 3


def _moved(api, keys, n=1, confirm=True):
    """A device that checked in from a new address: its address claim moved."""
    granted = activate(api, keys, first_type_id(api, keys), mac=f"00:50:56:00:01:{n:02x}", ip=f"10.0.1.{n}").body
    headers = _device_headers(granted)
    if confirm:
        assert api.post(f"/v1/devices/{granted['device_id']}/confirm", headers=headers).status == 200
    body = {"mac": f"00:50:56:00:01:{n:02x}", "ip": f"10.9.9.{n}", "port": 443, "version": "7.2.48"}
    assert api.post(f"/v1/devices/{granted['device_id']}/check-ins", body, headers=headers).status == 200
    return granted["device_id"], headers


def test_every_release_path_works_after_an_address_move(api, new_tenant, sweep):
    keys = new_tenant(trial={})
    deleted, _ = _moved(api, keys, 1)
    deactivated, headers = _moved(api, keys, 2)
    pending, _ = _moved(api, keys, 3, confirm=False)

    assert api.delete(f"/v1/devices/{deleted}", headers=keys.admin).status == 200
    assert api.post(f"/v1/devices/{deactivated}/deactivate", headers=headers).status == 200
    assert sweep("block_unconfirmed", T0 + timedelta(days=2))["acted"] == 1
    assert api.get(f"/v1/devices/{pending}", headers=keys.admin).body["status"] == "BLOCKED"
    assert api.get("/v1/license", headers=keys.admin).body["in_use"] == 0
    # The moved-to addresses are free again
    again = activate(api, keys, first_type_id(api, keys), mac="00:50:56:00:02:01", ip="10.9.9.1")
    assert again.status == 201


def test_terminate_and_the_expiry_sweep_release_moved_devices_of_every_tenant(api, new_tenant, sweep):
    first, second, third = new_tenant(trial={"days": 1}), new_tenant(trial={"days": 1}), new_tenant(trial={})
    _moved(api, first, 1)
    _moved(api, second, 2)
    _moved(api, third, 3)

    report = sweep("expire_trials", T0 + timedelta(days=2))
    terminated = api.post(f"/v1/tenants/{third.tenant_id}/terminate", headers=OP)

    assert report["skipped"] == 0
    assert terminated.status == 200 and terminated.body["devices_deactivated"] == 1
    for keys in (first, second, third):
        assert api.get("/v1/license", headers=keys.admin).body["in_use"] == 0


def test_a_release_that_loses_to_an_address_move_is_read_again_and_retried(api, new_tenant, monkeypatch):
    # Given a device, and a check-in from a new address landing right after DELETE read it
    keys = new_tenant(trial={})
    granted = activate(api, keys, first_type_id(api, keys)).body
    headers = _device_headers(granted)
    body = {**{k: lm()[k] for k in ("mac", "port")}, "ip": "10.7.7.7", "version": "7.2.48"}
    moved = _after_first_call(
        monkeypatch,
        device_store,
        "get_device",
        lambda: api.post(f"/v1/devices/{granted['device_id']}/check-ins", body, headers=headers),
    )

    reply = api.delete(f"/v1/devices/{granted['device_id']}", headers=keys.admin)

    monkeypatch.undo()
    assert moved[0].status == 200
    assert reply.status == 200
    assert api.get("/v1/license", headers=keys.admin).body["in_use"] == 0
    assert activate(api, keys, first_type_id(api, keys), mac="00:50:56:00:03:01", ip="10.7.7.7").status == 201


# Invariant 9: one token, one LoadMaster -------------------------------------------------------


def test_a_clone_with_another_mac_is_refused_and_logged_and_changes_nothing(api, trial_tenant, clock):
    granted = activate(api, trial_tenant, first_type_id(api, trial_tenant)).body
    headers = _device_headers(granted)
    path = f"/v1/devices/{granted['device_id']}/check-ins"
    clock.set_now(T0 + timedelta(hours=1))

    clone = api.post(
        path, {"mac": "00:50:56:ee:ee:ee", "ip": "10.0.0.77", "port": 443, "version": "7.2.47"}, headers=headers
    )

    assert (clone.status, clone.code) == (401, "VERIFY_FAILED")
    device = api.get(f"/v1/devices/{granted['device_id']}", headers=trial_tenant.admin).body
    assert device["last_check_in_at"] is None and device["ip"] == "10.0.0.5"
    [event] = [
        e
        for e in api.get("/v1/events", headers=trial_tenant.admin).body["events"]
        if e["kind"] == "device.clone_suspected"
    ]
    assert event["device_id"] == granted["device_id"]
    assert event["detail"]["clone_mac"] == "00:50:56:ee:ee:ee" and event["detail"]["mac"] == lm()["mac"]
    original = api.post(path, {k: lm()[k] for k in ("mac", "ip", "port", "version")}, headers=headers)
    assert original.status == 200


# Idempotency keys never dead-end ----------------------------------------------------------------


def test_an_idempotency_key_of_a_deleted_device_activates_afresh(api, trial_tenant):
    key = {"Idempotency-Key": "lm-boot-1"}
    first = activate(api, trial_tenant, first_type_id(api, trial_tenant), headers=key).body
    assert api.delete(f"/v1/devices/{first['device_id']}", headers=trial_tenant.admin).status == 200

    again = activate(api, trial_tenant, first_type_id(api, trial_tenant), headers=key)

    assert again.status == 201 and again.body["device_id"] != first["device_id"]
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 1


def test_an_expired_idempotency_key_is_free_whatever_ttl_has_done(api, trial_tenant, clock):
    key = {"Idempotency-Key": "lm-boot-2"}
    first = activate(api, trial_tenant, first_type_id(api, trial_tenant), headers=key).body
    api.post(f"/v1/devices/{first['device_id']}/deactivate", headers=_device_headers(first))
    clock.set_now(T0 + timedelta(hours=25))

    again = activate(api, trial_tenant, first_type_id(api, trial_tenant), headers=key)

    assert again.status == 201 and again.body["device_id"] != first["device_id"]


@pytest.mark.parametrize(
    "end, status, code", [("blocked", 403, "DEVICE_BLOCKED"), ("deactivated", 410, "DEVICE_DEACTIVATED")]
)
def test_a_replay_answers_what_the_device_is_now(api, trial_tenant, sweep, end, status, code):
    key = {"Idempotency-Key": f"lm-{end}"}
    first = activate(api, trial_tenant, first_type_id(api, trial_tenant), headers=key).body
    if end == "blocked":
        sweep("block_unconfirmed", T0 + timedelta(days=2))
    else:
        api.post(f"/v1/devices/{first['device_id']}/deactivate", headers=_device_headers(first))

    replay = activate(api, trial_tenant, first_type_id(api, trial_tenant), headers=key)

    assert (replay.status, replay.code) == (status, code)
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 0


# One host, one spelling --------------------------------------------------------------------------


@pytest.mark.parametrize("first, second", [("10.0.0.5", "::ffff:10.0.0.5"), ("2001:db8::1", "2001:DB8:0:0::1")])
def test_every_spelling_of_one_address_is_one_claim(api, trial_tenant, first, second):
    lic_type_id = first_type_id(api, trial_tenant)
    assert activate(api, trial_tenant, lic_type_id, ip=first).status == 201

    reply = activate(api, trial_tenant, lic_type_id, ip=second, mac="00:50:56:00:00:42")

    assert (reply.status, reply.code) == (409, "DUPLICATE_ADDRESS")


@pytest.mark.parametrize("ip", ["fe80::1%1", "fe80::1%eth0"])
def test_a_zone_id_is_refused(api, trial_tenant, ip):
    reply = activate(api, trial_tenant, first_type_id(api, trial_tenant), ip=ip)

    assert (reply.status, reply.code) == (400, "INVALID_INITIALIZATION")


# The operator's billing CSV runs no formula ---------------------------------------------------


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(api, new_tenant, sweep):
    keys = new_tenant(
        "=cmd|' /C calc'!A0", contract={"contract_id": "C-1", "capacity": 5, "starts_at": "2026-11-01T00:00:00Z"}
    )
    assert _pool(api, keys, 5, name='=HYPERLINK("http://x.example","click")').status == 201
    sweep("meter_usage", T0)

    csv_text = api.get("/v1/usage.csv?month=2026-11", headers=OP).body

    assert "'=HYPERLINK(" in csv_text and "'=cmd|" in csv_text
    assert ",=" not in csv_text and not any(line.startswith("=") for line in csv_text.splitlines())
