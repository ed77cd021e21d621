"""Replacing a LoadMaster: the license moves to its successor in one call."""

from tests.conftest import activate, first_type_id


def _granted(api, keys, **overrides):
    return activate(api, keys, first_type_id(api, keys), **overrides).body


def _check_in(api, device_id, token, mac, ip="10.0.0.5", port=443):
    return api.post(
        f"/v1/devices/{device_id}/check-ins",
        {"mac": mac, "ip": ip, "port": port, "version": "7.2.48"},
        headers={"Authorization": f"Device {token}"},
    )


def test_the_license_moves_to_the_successor_with_its_instance_type_and_history(api, trial_tenant):
    old = _granted(api, trial_tenant)
    api.post(f"/v1/devices/{old['device_id']}/confirm", headers={"Authorization": f"Device {old['device_token']}"})

    replaced = api.post(
        f"/v1/devices/{old['device_id']}/replace",
        {"mac": "00:50:56:aa:bb:99", "ip": "10.0.0.99", "port": 443},
        headers=trial_tenant.admin,
    )
    successor = _check_in(api, old["device_id"], replaced.body["device_token"], "00:50:56:aa:bb:99", "10.0.0.99")
    predecessor = _check_in(api, old["device_id"], old["device_token"], "00:50:56:aa:bb:01")

    assert replaced.status == 200, replaced.body
    assert (replaced.body["device_id"], replaced.body["mac"], replaced.body["status"]) == (
        old["device_id"],
        "00:50:56:aa:bb:99",
        "ACTIVE",
    )
    assert successor.status == 200
    assert predecessor.status == 401 and predecessor.code == "VERIFY_FAILED"
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 1
    detail = api.get(f"/v1/devices/{old['device_id']}", headers=trial_tenant.admin).body
    history = [e["kind"] for e in detail["history"]]
    assert history[:3] == ["device.replaced", "device.confirmed", "activation.granted"]


def test_the_old_mac_and_address_are_free_and_the_new_ones_taken(api, trial_tenant):
    old = _granted(api, trial_tenant)
    api.post(
        f"/v1/devices/{old['device_id']}/replace",
        {"mac": "00:50:56:aa:bb:99", "ip": "10.0.0.99", "port": 443},
        headers=trial_tenant.admin,
    )

    on_old = _granted(api, trial_tenant)  # the old MAC and address, a new LoadMaster
    on_new_mac = activate(api, trial_tenant, first_type_id(api, trial_tenant), mac="00:50:56:aa:bb:99", ip="10.0.0.50")
    on_new_address = activate(
        api, trial_tenant, first_type_id(api, trial_tenant), mac="00:50:56:aa:bb:51", ip="10.0.0.99"
    )

    assert on_old["device_id"] != old["device_id"]
    assert on_new_mac.status == 201 and on_new_mac.body["device_id"] == old["device_id"]  # its own retry
    assert on_new_address.status == 409 and on_new_address.code == "DUPLICATE_ADDRESS"


def test_replacing_onto_a_mac_or_address_another_device_holds_is_refused(api, trial_tenant):
    old = _granted(api, trial_tenant)
    _granted(api, trial_tenant, mac="00:50:56:aa:bb:02", ip="10.0.0.2")

    same_mac = api.post(
        f"/v1/devices/{old['device_id']}/replace",
        {"mac": "00:50:56:aa:bb:02", "ip": "10.0.0.70", "port": 443},
        headers=trial_tenant.admin,
    )
    same_address = api.post(
        f"/v1/devices/{old['device_id']}/replace",
        {"mac": "00:50:56:aa:bb:70", "ip": "10.0.0.2", "port": 443},
        headers=trial_tenant.admin,
    )

    assert same_mac.status == 409 and same_mac.code == "CONFLICT"
    assert same_address.status == 409 and same_address.code == "DUPLICATE_ADDRESS"
    assert api.get(f"/v1/devices/{old['device_id']}", headers=trial_tenant.admin).body["mac"] == "00:50:56:aa:bb:01"


def test_only_a_device_holding_a_license_can_be_replaced(api, trial_tenant, new_tenant):
    old = _granted(api, trial_tenant)
    api.post(f"/v1/devices/{old['device_id']}/deactivate", headers={"Authorization": f"Device {old['device_token']}"})
    other = new_tenant("Other", trial={})
    body = {"mac": "00:50:56:aa:bb:99", "ip": "10.0.0.99", "port": 443}

    deactivated = api.post(f"/v1/devices/{old['device_id']}/replace", body, headers=trial_tenant.admin)
    foreign = api.post(f"/v1/devices/{old['device_id']}/replace", body, headers=other.admin)
    bad = api.post(f"/v1/devices/{old['device_id']}/replace", {"mac": "nope"}, headers=trial_tenant.admin)

    assert deactivated.status == 409 and deactivated.code == "CONFLICT"
    assert foreign.status == 404
    assert bad.status == 400 and bad.code == "VALIDATION_ERROR"
