"""Invariant 3: a retried activation changes nothing the second time."""

from tests.conftest import activate, first_type_id


def _in_use(api, keys):
    return api.get("/v1/license", headers=keys.admin).body["in_use"]


def test_same_idempotency_key_answers_the_same_device(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)

    first = activate(api, trial_tenant, lic_type_id, headers={"Idempotency-Key": "req-1"})
    second = activate(api, trial_tenant, lic_type_id, headers={"Idempotency-Key": "req-1"})

    assert first.status == second.status == 201
    assert second.body["device_id"] == first.body["device_id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert _in_use(api, trial_tenant) == 1


def test_same_mac_and_type_while_holding_answers_the_same_device(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)

    first = activate(api, trial_tenant, lic_type_id)
    second = activate(api, trial_tenant, lic_type_id)

    assert second.status == 201
    assert second.body["device_id"] == first.body["device_id"]
    assert _in_use(api, trial_tenant) == 1


def test_replayed_device_token_still_confirms(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    activate(api, trial_tenant, lic_type_id)
    replay = activate(api, trial_tenant, lic_type_id).body

    reply = api.post(
        f"/v1/devices/{replay['device_id']}/confirm", headers={"Authorization": f"Device {replay['device_token']}"}
    )

    assert reply.status == 200 and reply.body["status"] == "ACTIVE"


def test_retried_confirm_answers_active_again(api, trial_tenant):
    granted = activate(api, trial_tenant, first_type_id(api, trial_tenant)).body
    headers = {"Authorization": f"Device {granted['device_token']}"}

    first = api.post(f"/v1/devices/{granted['device_id']}/confirm", headers=headers)
    second = api.post(f"/v1/devices/{granted['device_id']}/confirm", headers=headers)

    assert first.status == second.status == 200
    assert second.body["status"] == "ACTIVE"
    assert second.body["confirmed_at"] == first.body["confirmed_at"]


def test_idempotency_key_reused_for_another_request_is_a_conflict(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    activate(api, trial_tenant, lic_type_id, headers={"Idempotency-Key": "req-1"})

    reply = activate(
        api, trial_tenant, lic_type_id, headers={"Idempotency-Key": "req-1"}, mac="00:50:56:aa:bb:77", ip="10.0.0.77"
    )

    assert reply.status == 409 and reply.code == "CONFLICT"
    assert _in_use(api, trial_tenant) == 1


def test_same_mac_asking_for_another_type_is_a_conflict(api, new_tenant):
    keys = new_tenant(trial={"skus": ["VLM-MAX-SPLA", "VLM-200-SPLA"]})
    types = {t["sku"]: t["lic_type_id"] for t in api.get("/v1/license-types", headers=keys.admin).body["license_types"]}
    activate(api, keys, types["VLM-MAX-SPLA"])

    reply = activate(api, keys, types["VLM-200-SPLA"], sku="VLM-200-SPLA")

    assert reply.status == 409 and reply.code == "CONFLICT"
    assert _in_use(api, keys) == 1


def test_mac_spelled_differently_is_the_same_mac(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    first = activate(api, trial_tenant, lic_type_id, mac="00:50:56:AA:BB:01")

    second = activate(api, trial_tenant, lic_type_id, mac="00-50-56-aa-bb-01")

    assert second.body["device_id"] == first.body["device_id"]
    assert _in_use(api, trial_tenant) == 1
