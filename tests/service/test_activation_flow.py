"""The licensing procedure through the API: list types, activate, confirm."""

from tests.conftest import activate, first_type_id, lm


def test_loadmaster_lists_the_types_for_its_sku(api, trial_tenant):
    reply = api.post("/v1/activation/license-types", lm(), headers=trial_tenant.loadmaster)

    assert reply.status == 200
    [only] = reply.body["license_types"]
    assert only["sku"] == "VLM-MAX-SPLA"
    assert (only["capacity"], only["in_use"], only["available"]) == (5, 0, 5)


def test_activation_takes_one_instance_and_confirm_makes_the_device_active(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)

    granted = activate(api, trial_tenant, lic_type_id)
    confirmed = api.post(
        f"/v1/devices/{granted.body['device_id']}/confirm",
        headers={"Authorization": f"Device {granted.body['device_token']}"},
    )

    assert granted.status == 201, granted.body
    assert granted.body["status"] == "PENDING"
    assert granted.body["confirm_by"] == "2026-11-29T20:00:00Z"
    assert granted.body["lease_expires_at"] == "2026-12-05T20:00:00Z"
    assert confirmed.status == 200, confirmed.body
    assert confirmed.body["status"] == "ACTIVE"
    [pool] = api.get("/v1/license-types", headers=trial_tenant.admin).body["license_types"]
    assert pool["in_use"] == 1
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 1
