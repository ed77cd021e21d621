"""Check-ins, leases and deactivation by the LoadMaster."""

from datetime import timedelta

import pytest

from bench.calls import CallLog
from tests.conftest import T0, activate, first_type_id, lm


def _device(api, keys, **overrides):
    granted = activate(api, keys, first_type_id(api, keys), **overrides).body
    return granted["device_id"], {"Authorization": f"Device {granted['device_token']}"}


def _check_in(api, device_id, headers, **overrides):
    body = {k: v for k, v in lm(**overrides).items() if k in ("mac", "ip", "port", "version")}
    return api.post(f"/v1/devices/{device_id}/check-ins", body, headers=headers)


def test_check_in_answers_a_fresh_lease_and_the_next_check_in(api, trial_tenant, clock):
    device_id, headers = _device(api, trial_tenant)
    clock.set_now(T0 + timedelta(hours=3))

    reply = _check_in(api, device_id, headers)

    assert reply.status == 200, reply.body
    assert reply.body["status"] == "PENDING"
    assert reply.body["lease_expires_at"] == "2026-12-05T23:00:00Z"
    assert reply.body["next_check_in_after"] == "2026-11-29T00:00:00Z"
    device = api.get(f"/v1/license-types/{first_type_id(api, trial_tenant)}", headers=trial_tenant.admin)
    assert device.body["in_use"] == 1


def test_check_in_is_one_write_and_no_read(api, trial_tenant):
    device_id, headers = _device(api, trial_tenant)

    with CallLog() as log:
        reply = _check_in(api, device_id, headers)

    assert reply.status == 200
    assert [call.label for call in log.calls] == ["UpdateItem(devices)"]


def test_deactivated_device_gets_410(api, trial_tenant):
    device_id, headers = _device(api, trial_tenant)
    api.post(f"/v1/devices/{device_id}/deactivate", headers=headers)

    reply = _check_in(api, device_id, headers)

    assert reply.status == 410 and reply.code == "DEVICE_DEACTIVATED"


def test_blocked_device_gets_device_blocked(api, trial_tenant, sweep):
    device_id, headers = _device(api, trial_tenant)
    sweep("block_unconfirmed", T0 + timedelta(days=2))

    reply = _check_in(api, device_id, headers)

    assert reply.status == 403 and reply.code == "DEVICE_BLOCKED"
    assert reply.body["error"]["message"] == (
        "This LoadMaster cannot be licensed against this Kemp 360 Central at this time."
    )


def test_unknown_device_gets_the_seed_message_with_its_mac(api, trial_tenant, new_tenant):
    other = new_tenant("Other", trial={})
    device_id, headers = _device(api, other)
    from chalicelib.store.models import DeviceItem

    DeviceItem(device_id).delete()

    reply = _check_in(api, device_id, headers, mac="00:50:56:AA:BB:01")

    assert reply.status == 404 and reply.code == "UNKNOWN_DEVICE"
    assert reply.body["error"]["message"] == (
        "LM not added in the system because Kemp Analytics or update license "
        "is called from LM UP with MAC 00:50:56:aa:bb:01."
    )


def test_bad_check_in_body_is_invalid_initialization(api, trial_tenant):
    device_id, headers = _device(api, trial_tenant)

    reply = api.post(f"/v1/devices/{device_id}/check-ins", {"mac": "nope"}, headers=headers)

    assert reply.status == 400 and reply.code == "INVALID_INITIALIZATION"


def test_check_in_from_a_new_address_moves_the_address_claim(api, trial_tenant):
    device_id, headers = _device(api, trial_tenant)

    moved = _check_in(api, device_id, headers, ip="10.0.0.50")
    newcomer_on_old = activate(api, trial_tenant, first_type_id(api, trial_tenant), mac="00:50:56:aa:bb:02")
    newcomer_on_new = activate(
        api, trial_tenant, first_type_id(api, trial_tenant), mac="00:50:56:aa:bb:03", ip="10.0.0.50"
    )

    assert moved.status == 200
    assert newcomer_on_old.status == 201
    assert newcomer_on_new.status == 409 and newcomer_on_new.code == "DUPLICATE_ADDRESS"


def test_check_in_onto_an_address_another_device_holds_is_duplicate_address(api, trial_tenant):
    device_id, headers = _device(api, trial_tenant)
    activate(api, trial_tenant, first_type_id(api, trial_tenant), mac="00:50:56:aa:bb:02", ip="10.0.0.60")

    reply = _check_in(api, device_id, headers, ip="10.0.0.60")

    assert reply.status == 409 and reply.code == "DUPLICATE_ADDRESS"


def test_deactivate_releases_the_instance_exactly_once(api, trial_tenant):
    device_id, headers = _device(api, trial_tenant)

    first = api.post(f"/v1/devices/{device_id}/deactivate", headers=headers)
    second = api.post(f"/v1/devices/{device_id}/deactivate", headers=headers)

    assert first.status == second.status == 200
    assert second.body["status"] == "DEACTIVATED"
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 0
    assert api.get("/v1/license-types", headers=trial_tenant.admin).body["license_types"][0]["in_use"] == 0


def test_a_deactivated_mac_may_activate_again(api, trial_tenant):
    device_id, headers = _device(api, trial_tenant)
    api.post(f"/v1/devices/{device_id}/deactivate", headers=headers)

    again = activate(api, trial_tenant, first_type_id(api, trial_tenant))

    assert again.status == 201 and again.body["device_id"] != device_id


@pytest.mark.parametrize("path", ["check-ins", "deactivate", "confirm"])
def test_another_devices_token_is_refused(api, trial_tenant, path):
    device_id, _ = _device(api, trial_tenant)
    _, other_headers = _device(api, trial_tenant, mac="00:50:56:aa:bb:02", ip="10.0.0.2")

    reply = api.post(
        f"/v1/devices/{device_id}/{path}", {k: v for k, v in lm().items() if k != "sku"}, headers=other_headers
    )

    assert reply.status == 401 and reply.code == "VERIFY_FAILED"
