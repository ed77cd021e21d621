"""The tenant's pools: create, read, list, update, delete, with the capacity rules."""

from tests.conftest import activate, first_type_id, operator_headers

CONTRACT = {"contract_id": "C-1", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"}


def test_license_types_are_created_read_updated_and_deleted(api, new_tenant):
    keys = new_tenant(contract=CONTRACT)

    created = api.post("/v1/license-types", {"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": 4}, headers=keys.admin)
    path = f"/v1/license-types/{created.body['lic_type_id']}"
    read = api.get(path, headers=keys.admin)
    updated = api.patch(path, {"name": "Max pool", "capacity": 6}, headers=keys.admin)
    deleted = api.delete(path, headers=keys.admin)
    gone = api.get(path, headers=keys.admin)

    assert created.status == 201 and created.body["available"] == 4
    assert read.body == created.body
    assert (updated.body["name"], updated.body["capacity"]) == ("Max pool", 6)
    assert deleted.status == 200
    assert gone.status == 404 and gone.code == "NOT_FOUND"


def test_pools_together_never_exceed_the_contract(api, new_tenant):
    keys = new_tenant(contract=CONTRACT)
    first = api.post("/v1/license-types", {"name": "A", "sku": "VLM-MAX-SPLA", "capacity": 6}, headers=keys.admin)

    too_big = api.post("/v1/license-types", {"name": "B", "sku": "VLM-200-SPLA", "capacity": 5}, headers=keys.admin)
    grow = api.patch(f"/v1/license-types/{first.body['lic_type_id']}", {"capacity": 11}, headers=keys.admin)
    fits = api.post("/v1/license-types", {"name": "B", "sku": "VLM-200-SPLA", "capacity": 4}, headers=keys.admin)

    assert too_big.status == 409 and too_big.code == "CONFLICT"
    assert grow.status == 409 and grow.code == "CONFLICT"
    assert fits.status == 201


def test_a_pool_in_use_cannot_shrink_below_in_use_or_be_deleted(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:00:01", ip="10.0.0.1")
    activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:00:02", ip="10.0.0.2")
    path = f"/v1/license-types/{lic_type_id}"

    shrink = api.patch(path, {"capacity": 1}, headers=trial_tenant.admin)
    delete = api.delete(path, headers=trial_tenant.admin)
    to_in_use = api.patch(path, {"capacity": 2}, headers=trial_tenant.admin)

    assert shrink.status == 409 and shrink.code == "CONFLICT"
    assert delete.status == 409 and delete.code == "CONFLICT"
    assert to_in_use.status == 200 and to_in_use.body["available"] == 0


def test_unlicensed_tenant_cannot_create_capacity(api, new_tenant):
    keys = new_tenant()

    reply = api.post("/v1/license-types", {"name": "A", "sku": "VLM-MAX-SPLA", "capacity": 1}, headers=keys.admin)

    assert reply.status == 409 and reply.code == "CONFLICT"


def test_another_tenants_license_type_is_not_found(api, trial_tenant, new_tenant):
    other = new_tenant("Other", trial={})
    path = f"/v1/license-types/{first_type_id(api, trial_tenant)}"

    for reply in (
        api.get(path, headers=other.admin),
        api.patch(path, {"capacity": 1}, headers=other.admin),
        api.delete(path, headers=other.admin),
    ):
        assert reply.status == 404 and reply.code == "NOT_FOUND"
    assert api.get(path, headers=trial_tenant.admin).status == 200


def test_tenant_paths_refuse_the_operator_key_and_bad_keys(api):
    as_operator = api.get("/v1/license", headers=operator_headers())
    bad = api.get("/v1/license", headers={"Authorization": "Bearer lk_api.tx.AAAAAAAAAAAAAAAAAAAAAAAA"})

    assert as_operator.status == 403 and as_operator.code == "FORBIDDEN"
    assert bad.status == 401 and bad.code == "UNAUTHORIZED"


def test_trial_types_become_contract_types_and_shrink_to_what_they_hold_if_they_do_not_fit(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    activate(api, trial_tenant, lic_type_id)

    api.post(f"/v1/tenants/{trial_tenant.tenant_id}/contracts", {**CONTRACT, "capacity": 3}, headers=operator_headers())
    pool = api.get(f"/v1/license-types/{lic_type_id}", headers=trial_tenant.admin).body

    assert (pool["trial"], pool["capacity"], pool["in_use"]) == (False, 1, 1)
