"""Every licensing error of the seed's table that can arise before check-in, with its exact
message and status, each through the API."""

import pytest

from chalicelib.domain import ids
from tests.conftest import activate, first_type_id, lm, operator_headers


def _assert_error(reply, status, code, message):
    assert reply.status == status, reply.body
    assert reply.body["error"]["code"] == code
    assert reply.body["error"]["message"] == message


def test_unlicensed_tenant_gets_kemp_360_is_unlicensed(api, new_tenant):
    keys = new_tenant()

    reply = api.post("/v1/activation/license-types", lm(), headers=keys.loadmaster)

    _assert_error(reply, 403, "CENTRAL_UNLICENSED", "Kemp 360 is unlicensed.")


def test_terminated_tenant_gets_kemp_360_is_unlicensed_on_activation(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    api.post(f"/v1/tenants/{trial_tenant.tenant_id}/terminate", headers=operator_headers())

    reply = activate(api, trial_tenant, lic_type_id)

    _assert_error(reply, 403, "CENTRAL_UNLICENSED", "Kemp 360 is unlicensed.")


def test_expired_trial_gets_trial_has_expired(api, new_tenant, clock):
    keys = new_tenant(trial={"days": 30})
    lic_type_id = first_type_id(api, keys)
    clock.set_now(clock.now().replace(year=2027))

    listing = api.post("/v1/activation/license-types", lm(), headers=keys.loadmaster)
    activation = activate(api, keys, lic_type_id)

    _assert_error(listing, 403, "TRIAL_EXPIRED", "Trial has Expired.")
    _assert_error(activation, 403, "TRIAL_EXPIRED", "Trial has Expired.")
    assert api.get("/v1/license", headers=keys.admin).body["state"] == "EXPIRED"


def test_trial_tenant_refuses_a_loadmaster_licensed_elsewhere(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)

    reply = activate(api, trial_tenant, lic_type_id, existing_license={"issuer": "other.example", "active": True})

    _assert_error(
        reply,
        409,
        "TRIAL_CONFLICT",
        "Not issuing license to LM because Kemp 360 Central has trial "
        "license and LM has active license from another Central/ALSI",
    )


def test_licensed_tenant_accepts_a_loadmaster_licensed_elsewhere(api, new_tenant):
    keys = new_tenant(contract={"contract_id": "C-1", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"})
    created = api.post("/v1/license-types", {"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": 10}, headers=keys.admin)

    reply = activate(api, keys, created.body["lic_type_id"], existing_license={"issuer": "x", "active": True})

    assert reply.status == 201, reply.body


def test_non_spla_image_gets_no_local_license_found(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)

    listing = api.post(
        "/v1/activation/license-types", lm(image="LoadMaster-VLM-7.2.47.ova"), headers=trial_tenant.loadmaster
    )
    activation = activate(api, trial_tenant, lic_type_id, image="LoadMaster-VLM-7.2.47.ova")

    _assert_error(listing, 404, "NO_LOCAL_LICENSE", "No Local license found.")
    _assert_error(activation, 404, "NO_LOCAL_LICENSE", "No Local license found.")


def test_unknown_sku_gets_no_license_configured_for_that_sku(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)

    listing = api.post("/v1/activation/license-types", lm(sku="VLM-200-SPLA"), headers=trial_tenant.loadmaster)
    activation = activate(api, trial_tenant, lic_type_id, sku="VLM-200-SPLA")

    message = "No License configured for LM SKU VLM-200-SPLA."
    _assert_error(listing, 404, "NO_LICENSE_FOR_SKU", message)
    _assert_error(activation, 404, "NO_LICENSE_FOR_SKU", message)


@pytest.mark.parametrize("lic_type_id", ["lt-does-not-exist", "OTHER-SKU"])
def test_wrong_license_type_gets_invalid_license_type_id(api, new_tenant, lic_type_id):
    keys = new_tenant(trial={"skus": ["VLM-MAX-SPLA", "VLM-200-SPLA"]})
    types = {t["sku"]: t["lic_type_id"] for t in api.get("/v1/license-types", headers=keys.admin).body["license_types"]}
    requested = types["VLM-200-SPLA"] if lic_type_id == "OTHER-SKU" else lic_type_id

    reply = activate(api, keys, requested)

    _assert_error(reply, 400, "INVALID_LICENSE_TYPE", "Invalid License Type ID provided.")
    assert sum(t["in_use"] for t in api.get("/v1/license-types", headers=keys.admin).body["license_types"]) == 0


def test_sixth_loadmaster_on_a_five_instance_trial_gets_instance_limit_reached(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    for n in range(5):
        assert activate(api, trial_tenant, lic_type_id, mac=f"00:50:56:00:00:0{n}", ip=f"10.0.0.{n}").status == 201

    reply = activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:00:09", ip="10.0.0.9")

    _assert_error(reply, 409, "INSTANCE_LIMIT_REACHED", "Local license instance limit reached.")
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 5


def test_contract_capacity_caps_the_pools_together(api, new_tenant):
    keys = new_tenant(trial={"instances": 2, "skus": ["VLM-MAX-SPLA", "VLM-200-SPLA"]})
    types = {t["sku"]: t["lic_type_id"] for t in api.get("/v1/license-types", headers=keys.admin).body["license_types"]}
    assert activate(api, keys, types["VLM-MAX-SPLA"], mac="00:50:56:00:00:01", ip="10.0.0.1").status == 201
    assert (
        activate(api, keys, types["VLM-200-SPLA"], sku="VLM-200-SPLA", mac="00:50:56:00:00:02", ip="10.0.0.2").status
        == 201
    )

    reply = activate(api, keys, types["VLM-MAX-SPLA"], mac="00:50:56:00:00:03", ip="10.0.0.3")

    _assert_error(reply, 409, "INSTANCE_LIMIT_REACHED", "Local license instance limit reached.")


def test_same_ip_and_port_on_another_mac_gets_duplicate_address(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    activate(api, trial_tenant, lic_type_id)

    reply = activate(api, trial_tenant, lic_type_id, mac="00:50:56:aa:bb:99")
    other_port = activate(api, trial_tenant, lic_type_id, mac="00:50:56:aa:bb:98", port=8443)

    _assert_error(reply, 409, "DUPLICATE_ADDRESS", "Device with same IP Address already exist.")
    assert other_port.status == 201


@pytest.mark.parametrize("key", [None, "", "garbage", "lk_act.tdeadbeef.AAAAAAAAAAAAAAAAAAAAAAAA"])
def test_missing_or_wrong_activation_key_gets_cant_verify_check(api, trial_tenant, key):
    headers = {} if key is None else {"X-Activation-Key": key}

    reply = api.post("/v1/activation/license-types", lm(), headers=headers)

    _assert_error(reply, 401, "VERIFY_FAILED", "Can't verify check.")


def test_another_tenants_activation_key_with_this_tenants_id_is_refused(api, trial_tenant, new_tenant):
    other = new_tenant("Other", trial={})
    forged = f"lk_act.{trial_tenant.tenant_id}.{other.activation_key.split('.')[2]}"

    reply = api.post("/v1/activation/license-types", lm(), headers={"X-Activation-Key": forged})

    _assert_error(reply, 401, "VERIFY_FAILED", "Can't verify check.")


def test_forged_device_token_gets_cant_verify_check(api, trial_tenant):
    granted = activate(api, trial_tenant, first_type_id(api, trial_tenant)).body
    header, claims, signature = granted["device_token"].split(".")
    tampered = f"{header}.{claims[:-2]}AA.{signature}"

    wrong_device = api.post(
        "/v1/devices/00000000-0000-0000-0000-000000000000/confirm",
        headers={"Authorization": f"Device {granted['device_token']}"},
    )
    altered = api.post(f"/v1/devices/{granted['device_id']}/confirm", headers={"Authorization": f"Device {tampered}"})
    lease_as_token = api.post(
        f"/v1/devices/{granted['device_id']}/confirm", headers={"Authorization": f"Device {granted['license']}"}
    )

    for reply in (wrong_device, altered, lease_as_token):
        _assert_error(reply, 401, "VERIFY_FAILED", "Can't verify check.")


def test_uuid_collisions_are_retried_then_refused(api, trial_tenant, monkeypatch):
    lic_type_id = first_type_id(api, trial_tenant)
    first = activate(api, trial_tenant, lic_type_id).body["device_id"]
    fresh = iter(["aaaaaaaa-0000-4000-8000-000000000001"])
    monkeypatch.setattr(ids, "new_device_id", lambda: next(fresh, first))

    # The first id offered is fresh; every one after it collides with an existing license.
    granted = activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:00:02", ip="10.0.0.2")
    refused = activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:00:03", ip="10.0.0.3")

    assert granted.status == 201 and granted.body["device_id"] == "aaaaaaaa-0000-4000-8000-000000000001"
    _assert_error(refused, 503, "UUID_GENERATION_FAILED", "Unable to generate license UUID")
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 2


def test_a_collision_followed_by_a_fresh_id_is_granted(api, trial_tenant, monkeypatch):
    lic_type_id = first_type_id(api, trial_tenant)
    taken = activate(api, trial_tenant, lic_type_id).body["device_id"]
    offered = iter([taken, taken, "bbbbbbbb-0000-4000-8000-000000000002"])
    monkeypatch.setattr(ids, "new_device_id", lambda: next(offered))

    reply = activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:00:02", ip="10.0.0.2")

    assert reply.status == 201 and reply.body["device_id"] == "bbbbbbbb-0000-4000-8000-000000000002"


def _blocked_device(api, keys, clock):
    """A device activated and not confirmed in time: confirming late blocks it."""
    granted = activate(api, keys, first_type_id(api, keys)).body
    clock.set_now(clock.now().replace(day=clock.now().day + 2))
    late = api.post(
        f"/v1/devices/{granted['device_id']}/confirm", headers={"Authorization": f"Device {granted['device_token']}"}
    )
    return granted, late


def test_confirming_after_the_deadline_blocks_the_device_and_frees_its_instance(api, trial_tenant, clock):
    _granted, late = _blocked_device(api, trial_tenant, clock)

    _assert_error(
        late, 403, "DEVICE_BLOCKED", "This LoadMaster cannot be licensed against this Kemp 360 Central at this time."
    )
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 0


def test_a_blocked_mac_is_refused_on_license_types_activation_and_confirm(api, trial_tenant, clock):
    granted, _ = _blocked_device(api, trial_tenant, clock)
    message = "This LoadMaster cannot be licensed against this Kemp 360 Central at this time."

    listing = api.post("/v1/activation/license-types", lm(), headers=trial_tenant.loadmaster)
    again = activate(api, trial_tenant, first_type_id(api, trial_tenant), ip="10.9.9.9")
    not_spla = activate(api, trial_tenant, first_type_id(api, trial_tenant), image="plain.ova")
    confirm = api.post(
        f"/v1/devices/{granted['device_id']}/confirm", headers={"Authorization": f"Device {granted['device_token']}"}
    )

    for reply in (listing, again, not_spla, confirm):
        _assert_error(reply, 403, "DEVICE_BLOCKED", message)


def test_another_mac_is_not_affected_by_a_blocked_one(api, trial_tenant, clock):
    _blocked_device(api, trial_tenant, clock)

    reply = activate(api, trial_tenant, first_type_id(api, trial_tenant), mac="00:50:56:aa:bb:02")

    assert reply.status == 201, reply.body
