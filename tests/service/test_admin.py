"""The tenant administrator's day to day: devices table, unblock, delete, settings, keys."""

from datetime import timedelta

import pytest

from chalicelib.store.models import TenantItem
from tests.conftest import T0, activate, operator_headers


@pytest.fixture
def licensed(licensed_tenant):
    return licensed_tenant(10)


def _fleet(api, keys, n, start=1):
    granted = []
    for i in range(start, start + n):
        reply = activate(api, keys, keys.lic_type_id, mac=f"00:50:56:00:10:{i:02x}", ip=f"10.2.0.{i}")
        assert reply.status == 201, reply.body
        granted.append(reply.body)
    return granted


def _device_headers(granted):
    return {"Authorization": f"Device {granted['device_token']}"}


def _block(api, keys, sweep):
    granted = _fleet(api, keys, 1, start=90)[0]
    sweep("block_unconfirmed", T0 + timedelta(days=2))
    return granted


# The devices table -----------------------------------------------------------------------------


def test_devices_are_paged_through_with_an_opaque_cursor(api, licensed):
    made = {g["device_id"] for g in _fleet(api, licensed, 7)}

    seen, pages, cursor = [], 0, None
    while True:
        page = api.get("/v1/devices?limit=3" + (f"&next={cursor}" if cursor else ""), headers=licensed.admin)
        assert page.status == 200, page.body
        seen += [d["device_id"] for d in page.body["devices"]]
        pages += 1
        cursor = page.body["next"]
        if not cursor:
            break

    assert sorted(seen) == sorted(made) and len(seen) == 7
    assert pages >= 3


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=PENDING", 2),
        ("status=ACTIVE", 1),
        ("mac=00-50-56-00-10-02", 1),
        ("ip=10.2.0.3", 1),
        ("status=BLOCKED", 0),
    ],
)
def test_devices_are_filtered(api, licensed, query, expected):
    granted = _fleet(api, licensed, 3)
    api.post(f"/v1/devices/{granted[0]['device_id']}/confirm", headers=_device_headers(granted[0]))

    reply = api.get(f"/v1/devices?{query}", headers=licensed.admin)

    assert reply.status == 200 and len(reply.body["devices"]) == expected


def test_devices_filtered_by_license_type(api, licensed):
    other = api.post(
        "/v1/license-types", {"name": "200", "sku": "VLM-200-SPLA", "capacity": 5}, headers=licensed.admin
    ).body["lic_type_id"]
    _fleet(api, licensed, 2)
    activate(api, licensed, other, sku="VLM-200-SPLA", mac="00:50:56:00:20:01", ip="10.3.0.1")

    reply = api.get(f"/v1/devices?lic_type_id={other}", headers=licensed.admin)

    assert [d["sku"] for d in reply.body["devices"]] == ["VLM-200-SPLA"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "status=LOST", "mac=nope", "next=forged"])
def test_bad_device_queries_are_validation_errors(api, licensed, query):
    reply = api.get(f"/v1/devices?{query}", headers=licensed.admin)

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"


def test_a_cursor_cannot_be_carried_into_another_tenant(api, licensed, new_tenant):
    _fleet(api, licensed, 3)
    cursor = api.get("/v1/devices?limit=1", headers=licensed.admin).body["next"]
    other = new_tenant("Other", trial={})

    reply = api.get(f"/v1/devices?limit=1&next={cursor}", headers=other.admin)

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"
    assert "devices" not in reply.body


def test_one_device_with_its_history(api, licensed):
    granted = _fleet(api, licensed, 1)[0]
    api.post(f"/v1/devices/{granted['device_id']}/confirm", headers=_device_headers(granted))

    reply = api.get(f"/v1/devices/{granted['device_id']}", headers=licensed.admin)

    assert reply.status == 200 and reply.body["status"] == "ACTIVE"
    assert [e["kind"] for e in reply.body["history"]] == ["device.confirmed", "activation.granted"]


# Unblock and delete ----------------------------------------------------------------------------


def test_unblock_lets_the_loadmaster_activate_again(api, licensed, sweep, clock):
    blocked = _block(api, licensed, sweep)
    clock.set_now(T0 + timedelta(days=2))

    unblocked = api.post(f"/v1/devices/{blocked['device_id']}/unblock", headers=licensed.admin)
    again = activate(api, licensed, licensed.lic_type_id, mac="00:50:56:00:10:5a", ip="10.2.0.90")

    assert unblocked.status == 200 and unblocked.body["status"] == "DEACTIVATED"
    assert again.status == 201 and again.body["device_id"] != blocked["device_id"]


def test_only_a_blocked_device_can_be_unblocked(api, licensed):
    granted = _fleet(api, licensed, 1)[0]

    reply = api.post(f"/v1/devices/{granted['device_id']}/unblock", headers=licensed.admin)

    assert reply.status == 409 and reply.code == "CONFLICT"


def test_delete_releases_the_instance_and_a_later_check_in_is_unknown_device(api, licensed):
    granted = _fleet(api, licensed, 1)[0]

    deleted = api.delete(f"/v1/devices/{granted['device_id']}", headers=licensed.admin)
    check_in = api.post(
        f"/v1/devices/{granted['device_id']}/check-ins",
        {"mac": "00:50:56:00:10:01", "ip": "10.2.0.1", "port": 443, "version": "7.2.48"},
        headers=_device_headers(granted),
    )

    assert deleted.status == 200
    assert api.get(f"/v1/license-types/{licensed.lic_type_id}", headers=licensed.admin).body["in_use"] == 0
    assert api.get(f"/v1/devices/{granted['device_id']}", headers=licensed.admin).status == 404
    assert check_in.status == 404 and check_in.body["error"]["message"] == (
        "LM not added in the system because Kemp Analytics or update license is called from LM UP with MAC "
        "00:50:56:00:10:01."
    )


def test_deleting_a_blocked_device_frees_its_mac(api, licensed, sweep, clock):
    blocked = _block(api, licensed, sweep)
    clock.set_now(T0 + timedelta(days=2))

    api.delete(f"/v1/devices/{blocked['device_id']}", headers=licensed.admin)
    again = activate(api, licensed, licensed.lic_type_id, mac="00:50:56:00:10:5a", ip="10.2.0.90")

    assert again.status == 201


# Settings --------------------------------------------------------------------------------------


def test_settings_have_the_contracts_defaults(api, licensed):
    reply = api.get("/v1/settings", headers=licensed.admin)

    assert reply.body == {
        "confirm_window_s": 86400,
        "check_in_interval_s": 3600,
        "silent_after_s": 86400,
        "lease_s": 604800,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"lease_s": 0},
        {"silent_after_s": -5},
        {"confirm_window_s": 10**9},
        {"lease_s": "long"},
        {"colour": 1},
        {"silent_after_s": 600, "check_in_interval_s": 3600},
    ],
)
def test_bad_settings_are_refused_and_change_nothing(api, licensed, body):
    reply = api.patch("/v1/settings", body, headers=licensed.admin)

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"
    assert api.get("/v1/settings", headers=licensed.admin).body["lease_s"] == 604800


def test_new_settings_apply_to_leases_and_sweeps_from_then_on(api, licensed, sweep, clock):
    granted = _fleet(api, licensed, 1)[0]
    api.post(f"/v1/devices/{granted['device_id']}/confirm", headers=_device_headers(granted))

    patched = api.patch("/v1/settings", {"lease_s": 7200, "silent_after_s": 7200}, headers=licensed.admin)
    check_in = api.post(
        f"/v1/devices/{granted['device_id']}/check-ins",
        {"mac": "00:50:56:00:10:01", "ip": "10.2.0.1", "port": 443, "version": "7.2.48"},
        headers=_device_headers(granted),
    )
    swept = sweep("deactivate_silent", T0 + timedelta(hours=15))

    assert patched.status == 200 and patched.body["lease_s"] == 7200
    assert check_in.body["lease_expires_at"] == "2026-11-28T22:00:00Z"
    assert swept["acted"] == 1
    assert api.get(f"/v1/devices/{granted['device_id']}", headers=licensed.admin).body["status"] == "DEACTIVATED"


def test_confirm_window_applies_to_new_activations(api, licensed):
    api.patch("/v1/settings", {"confirm_window_s": 600}, headers=licensed.admin)

    granted = _fleet(api, licensed, 1)[0]

    assert granted["confirm_by"] == "2026-11-28T20:10:00Z"


# Keys ------------------------------------------------------------------------------------------


def test_rotated_api_key_replaces_the_old_one_at_once(api, licensed):
    rotated = api.post("/v1/keys/rotate", {"kind": "api"}, headers=licensed.admin)

    old = api.get("/v1/license", headers=licensed.admin)
    new = api.get("/v1/license", headers={"Authorization": f"Bearer {rotated.body['key']}"})

    assert rotated.status == 201 and rotated.body["kind"] == "api"
    assert old.status == 401 and new.status == 200
    stored = str(TenantItem.get(licensed.tenant_id).attribute_values)
    assert rotated.body["key"] not in stored and rotated.body["key"].split(".")[2] not in stored


def test_rotated_activation_key_replaces_the_old_one_at_once(api, licensed):
    rotated = api.post("/v1/keys/rotate", {"kind": "activation"}, headers=licensed.admin).body["key"]

    old = activate(api, licensed, licensed.lic_type_id)
    new = activate(api, licensed, licensed.lic_type_id, headers={"X-Activation-Key": rotated})

    assert old.status == 401 and old.code == "VERIFY_FAILED"
    assert new.status == 201


def test_key_kind_must_be_known(api, licensed):
    reply = api.post("/v1/keys/rotate", {"kind": "operator"}, headers=licensed.admin)

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"


def test_tenant_keys_are_not_shown_again(api, licensed):
    reply = api.get(f"/v1/tenants/{licensed.tenant_id}", headers=operator_headers())

    assert licensed.api_key not in str(reply.body) and licensed.activation_key not in str(reply.body)
