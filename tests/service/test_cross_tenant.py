"""No tenant can see or change another tenant's data (invariant 6), on every tenant path."""

import pytest

from tests.conftest import activate, first_type_id

CONTRACT = {"contract_id": "C-1", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"}


@pytest.fixture
def victim(api, new_tenant):
    keys = new_tenant("Victim", trial={})
    keys.lic_type_id = first_type_id(api, keys)
    keys.device = activate(api, keys, keys.lic_type_id).body
    return keys


@pytest.fixture
def intruder(new_tenant):
    return new_tenant("Intruder", trial={})


def _paths(victim):
    d, t = victim.device["device_id"], victim.lic_type_id
    return [
        ("GET", f"/v1/license-types/{t}", None),
        ("PATCH", f"/v1/license-types/{t}", {"capacity": 1}),
        ("DELETE", f"/v1/license-types/{t}", None),
        ("GET", f"/v1/devices/{d}", None),
        ("POST", f"/v1/devices/{d}/unblock", None),
        ("DELETE", f"/v1/devices/{d}", None),
    ]


def test_another_tenants_key_reaches_nothing_of_the_victim(api, victim, intruder):
    for method, path, body in _paths(victim):
        reply = api.call(method, path, body, headers=intruder.admin)

        assert reply.status in (403, 404), (method, path, reply.status)
        assert victim.device["device_id"] not in str(reply.body) or reply.status == 404
        assert "Victim" not in str(reply.body)
    assert api.get(f"/v1/license-types/{victim.lic_type_id}", headers=victim.admin).body["capacity"] == 5
    assert api.get(f"/v1/devices/{victim.device['device_id']}", headers=victim.admin).status == 200


def test_tenant_wide_reads_show_only_the_callers_data(api, victim, intruder):
    for path in (
        "/v1/devices",
        "/v1/events?limit=100",
        "/v1/license-types",
        "/v1/license",
        "/v1/settings",
        "/v1/usage?month=2026-11",
    ):
        reply = api.get(path, headers=intruder.admin)

        assert reply.status == 200
        assert victim.device["device_id"] not in str(reply.body) and victim.tenant_id not in str(reply.body)
        assert victim.lic_type_id not in str(reply.body)


def test_the_victims_device_token_does_not_work_for_the_intruders_device(api, victim, intruder):
    theirs = activate(api, intruder, first_type_id(api, intruder)).body
    headers = {"Authorization": f"Device {victim.device['device_token']}"}
    body = {"mac": "00:50:56:aa:bb:01", "ip": "10.0.0.5", "port": 443, "version": "7.2.47"}

    for path in ("confirm", "check-ins", "deactivate"):
        reply = api.post(f"/v1/devices/{theirs['device_id']}/{path}", body, headers=headers)

        assert reply.status == 401 and reply.code == "VERIFY_FAILED"


def test_tenant_keys_cannot_reach_operator_paths(api, victim):
    for method, path in (
        ("GET", "/v1/tenants"),
        ("POST", "/v1/tenants"),
        ("GET", f"/v1/tenants/{victim.tenant_id}"),
        ("POST", f"/v1/tenants/{victim.tenant_id}/trial"),
        ("POST", f"/v1/tenants/{victim.tenant_id}/contracts"),
        ("POST", f"/v1/tenants/{victim.tenant_id}/terminate"),
        ("POST", f"/v1/tenants/{victim.tenant_id}/owner"),
    ):
        reply = api.call(method, path, {}, headers=victim.admin)

        assert reply.status == 403 and reply.code == "FORBIDDEN", (method, path)
    assert api.get("/v1/license", headers=victim.admin).body["state"] == "TRIAL"


def test_activation_key_is_not_an_api_key_and_the_reverse(api, victim):
    as_admin = api.get("/v1/license", headers={"Authorization": f"Bearer {victim.activation_key}"})
    as_loadmaster = api.post("/v1/activation/license-types", {}, headers={"X-Activation-Key": victim.api_key})

    assert as_admin.status == 401
    assert as_loadmaster.status == 401 and as_loadmaster.code == "VERIFY_FAILED"
