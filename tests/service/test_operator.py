"""The operator's API: tenants, trial, contracts, termination, ownership."""

import pytest

from tests.conftest import activate, first_type_id, operator_headers

CONTRACT = {
    "contract_id": "C-2026-001",
    "capacity": 20,
    "starts_at": "2026-11-01T00:00:00Z",
    "ends_at": "2027-11-01T00:00:00Z",
}


def test_created_tenant_is_unlicensed_and_its_keys_are_shown_once(api):
    created = api.post("/v1/tenants", {"name": "Acme", "owner_email": "ops@acme.example"}, headers=operator_headers())
    read = api.get(f"/v1/tenants/{created.body['tenant_id']}", headers=operator_headers())

    assert created.status == 201
    assert created.body["state"] == "UNLICENSED"
    assert created.body["api_key"].startswith("lk_api.") and created.body["activation_key"].startswith("lk_act.")
    assert "api_key" not in read.body and "activation_key" not in read.body
    assert read.body["name"] == "Acme"


def test_keys_are_stored_only_as_hashes(api, new_tenant):
    from chalicelib.store.models import TenantItem

    keys = new_tenant()
    stored = TenantItem.get(keys.tenant_id).attribute_values

    assert keys.api_key not in str(stored) and keys.activation_key not in str(stored)
    assert keys.api_key.split(".")[2] not in str(stored)


def test_tenants_are_listed_and_paged(api, new_tenant):
    made = {new_tenant(f"T{i}").tenant_id for i in range(5)}

    seen, cursor = set(), None
    while True:
        page = api.get("/v1/tenants?limit=2" + (f"&next={cursor}" if cursor else ""), headers=operator_headers())
        seen |= {t["tenant_id"] for t in page.body["tenants"]}
        cursor = page.body["next"]
        if not cursor:
            break

    assert seen == made


def test_trial_defaults_to_five_instances_for_thirty_days(api, new_tenant):
    keys = new_tenant()

    reply = api.post(f"/v1/tenants/{keys.tenant_id}/trial", {}, headers=operator_headers())

    assert reply.status == 201
    assert reply.body["state"] == "TRIAL" and reply.body["capacity"] == 5
    assert reply.body["trial_expires_at"] == "2026-12-28T20:00:00Z"
    [pool] = api.get("/v1/license-types", headers=keys.admin).body["license_types"]
    assert (pool["sku"], pool["capacity"], pool["trial"]) == ("VLM-MAX-SPLA", 5, True)


def test_a_tenant_gets_one_trial(api, trial_tenant):
    reply = api.post(f"/v1/tenants/{trial_tenant.tenant_id}/trial", {}, headers=operator_headers())

    assert reply.status == 409 and reply.code == "CONFLICT"


def test_contract_makes_the_tenant_licensed_and_trial_devices_keep_their_instances(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    device = activate(api, trial_tenant, lic_type_id).body

    reply = api.post(f"/v1/tenants/{trial_tenant.tenant_id}/contracts", CONTRACT, headers=operator_headers())
    state = api.get("/v1/license", headers=trial_tenant.admin).body

    assert reply.status == 201
    assert state["state"] == "LICENSED" and state["contract_id"] == "C-2026-001"
    assert (state["capacity"], state["in_use"]) == (20, 1)
    confirm = api.post(
        f"/v1/devices/{device['device_id']}/confirm", headers={"Authorization": f"Device {device['device_token']}"}
    )
    assert confirm.status == 200


def test_contract_below_the_instances_in_use_is_refused(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:00:01", ip="10.0.0.1")
    activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:00:02", ip="10.0.0.2")

    reply = api.post(
        f"/v1/tenants/{trial_tenant.tenant_id}/contracts", {**CONTRACT, "capacity": 1}, headers=operator_headers()
    )

    assert reply.status == 409 and reply.code == "CONFLICT"
    assert api.get("/v1/license", headers=trial_tenant.admin).body["state"] == "TRIAL"


def test_contract_past_its_end_licenses_nothing_more(api, new_tenant, clock):
    keys = new_tenant(contract={**CONTRACT, "ends_at": "2026-12-01T00:00:00Z"})
    lic_type_id = api.post(
        "/v1/license-types", {"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": 5}, headers=keys.admin
    ).body["lic_type_id"]
    clock.set_now(clock.now().replace(month=12, day=2))

    reply = activate(api, keys, lic_type_id)

    assert reply.status == 403 and reply.code == "CENTRAL_UNLICENSED"


def test_terminate_deactivates_every_device_and_releases_the_instances(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    for n in range(3):
        activate(api, trial_tenant, lic_type_id, mac=f"00:50:56:00:00:0{n}", ip=f"10.0.0.{n}")

    reply = api.post(f"/v1/tenants/{trial_tenant.tenant_id}/terminate", headers=operator_headers())
    again = api.post(f"/v1/tenants/{trial_tenant.tenant_id}/terminate", headers=operator_headers())

    assert reply.status == 200
    assert reply.body["state"] == "TERMINATED" and reply.body["devices_deactivated"] == 3
    assert again.body["devices_deactivated"] == 0
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 0
    assert api.get("/v1/license-types", headers=trial_tenant.admin).body["license_types"][0]["in_use"] == 0


def test_change_of_ownership(api, new_tenant):
    keys = new_tenant()

    reply = api.post(
        f"/v1/tenants/{keys.tenant_id}/owner", {"owner_email": "new@acme.example"}, headers=operator_headers()
    )

    assert reply.status == 200 and reply.body["owner_email"] == "new@acme.example"


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/tenants/tnope"),
        ("POST", "/v1/tenants/tnope/trial"),
        ("POST", "/v1/tenants/tnope/contracts"),
        ("POST", "/v1/tenants/tnope/terminate"),
        ("POST", "/v1/tenants/tnope/owner"),
    ],
)
def test_unknown_tenant_is_not_found(api, method, path):
    body = {"owner_email": "a@b.example"} if path.endswith("owner") else (CONTRACT if "contracts" in path else {})

    reply = api.call(method, path, body, headers=operator_headers())

    assert reply.status == 404 and reply.code == "NOT_FOUND"


def test_operator_paths_refuse_tenant_keys_and_strangers(api, trial_tenant):
    as_tenant = api.get("/v1/tenants", headers=trial_tenant.admin)
    wrong = api.get("/v1/tenants", headers={"Authorization": "Bearer nope"})
    missing = api.get("/v1/tenants")

    assert as_tenant.status == 403 and as_tenant.code == "FORBIDDEN"
    assert wrong.status == 401 and wrong.code == "UNAUTHORIZED"
    assert missing.status == 401 and missing.code == "UNAUTHORIZED"
