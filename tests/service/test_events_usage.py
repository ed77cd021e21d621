"""The debug log, metered usage and overage policies."""

from datetime import timedelta

import pytest

from tests.conftest import T0, activate, operator_headers


@pytest.fixture
def licensed(licensed_tenant):
    return licensed_tenant(4)


def _activate(api, keys, n):
    return activate(api, keys, keys.lic_type_id, mac=f"00:50:56:00:30:{n:02x}", ip=f"10.4.0.{n}")


# The debug log ---------------------------------------------------------------------------------


def test_every_decision_sweep_action_and_admin_change_is_logged_newest_first(api, licensed, sweep, clock):
    granted = _activate(api, licensed, 1).body
    _activate(api, licensed, 2)
    refused = activate(api, licensed, "lt-nope", mac="00:50:56:00:30:09", ip="10.4.0.9")
    clock.set_now(T0 + timedelta(minutes=1))
    api.patch(f"/v1/license-types/{licensed.lic_type_id}", {"name": "Renamed"}, headers=licensed.admin)
    sweep("block_unconfirmed", T0 + timedelta(days=2))

    log = api.get("/v1/events?limit=100", headers=licensed.admin).body["events"]

    kinds = [e["kind"] for e in log]
    # The operator's tenant invites its owner_email as owner in the transaction that creates it.
    assert kinds[-4:] == ["license_type.created", "contract.applied", "member.invited", "tenant.created"]
    assert kinds.count("activation.granted") == 2 and kinds.count("device.blocked") == 2
    assert "license_type.created" in kinds and "license_type.updated" in kinds
    assert [e["at"] for e in log] == sorted((e["at"] for e in log), reverse=True)
    [refusal] = [e for e in log if e["kind"] == "activation.refused"]
    assert refusal["code"] == refused.code == "INVALID_LICENSE_TYPE"
    assert refusal["detail"]["mac"] == "00:50:56:00:30:09" and refusal["detail"]["ip"] == "10.4.0.9"
    assert refusal["detail"]["lic_type_id"] == "lt-nope"
    [grant] = [e for e in log if e["kind"] == "activation.granted" and e["device_id"] == granted["device_id"]]
    assert grant["detail"]["lic_type_id"] == licensed.lic_type_id
    [blocked] = [e for e in log if e["kind"] == "device.blocked" and e["device_id"] == granted["device_id"]]
    assert blocked["detail"]["reason"] == "not confirmed in time"


def test_the_log_is_paged_and_filtered_by_device(api, licensed):
    devices = [_activate(api, licensed, n).body["device_id"] for n in range(1, 4)]

    first = api.get("/v1/events?limit=2", headers=licensed.admin).body
    second = api.get(f"/v1/events?limit=2&next={first['next']}", headers=licensed.admin).body
    one = api.get(f"/v1/events?device_id={devices[1]}", headers=licensed.admin).body["events"]

    assert len(first["events"]) == 2 and second["events"]
    assert not {e["event_id"] for e in first["events"]} & {e["event_id"] for e in second["events"]}
    assert [e["device_id"] for e in one] == [devices[1]]


def test_events_expire_after_their_ttl(api, licensed, clock):
    _activate(api, licensed, 1)
    clock.set_now(T0 + timedelta(days=91))

    reply = api.get("/v1/events", headers=licensed.admin)

    assert reply.body["events"] == []


# Usage -----------------------------------------------------------------------------------------


def test_usage_adds_up_the_metered_hours(api, licensed, sweep, clock):
    # 2 instances for hour 20, 3 for hour 21, 1 for hour 22.
    a, b = _activate(api, licensed, 1).body, _activate(api, licensed, 2).body
    sweep("meter_usage", T0)
    _activate(api, licensed, 3)
    sweep("meter_usage", T0 + timedelta(hours=1))
    for d in (a, b):
        api.post(f"/v1/devices/{d['device_id']}/deactivate", headers={"Authorization": f"Device {d['device_token']}"})
    sweep("meter_usage", T0 + timedelta(hours=2))

    report = api.get("/v1/usage?month=2026-11", headers=licensed.admin).body

    [pool] = report["license_types"]
    assert (pool["instance_hours"], pool["peak_instances"], pool["capacity"], pool["overage_hours"]) == (6, 3, 4, 0)
    assert [(h["hour"], h["in_use"]) for h in report["hours"]] == [
        ("2026-11-28T20:00:00Z", 2),
        ("2026-11-28T21:00:00Z", 3),
        ("2026-11-28T22:00:00Z", 1),
    ]
    assert api.get("/v1/usage?month=2026-12", headers=licensed.admin).body["license_types"] == []


def test_usage_as_csv_for_the_tenant_and_for_the_operator(api, licensed, new_tenant, sweep):
    other = new_tenant("Other", trial={})
    _activate(api, licensed, 1)
    sweep("meter_usage", T0)

    own = api.get("/v1/usage.csv?month=2026-11", headers=licensed.admin)
    billing = api.get("/v1/usage.csv?month=2026-11", headers=operator_headers())
    every = api.get("/v1/usage?month=2026-11", headers=operator_headers()).body

    assert own.status == 200 and own.headers["Content-Type"].startswith("text/csv")
    lines = own.body.splitlines()
    assert lines[0] == (
        "tenant_id,tenant_name,month,lic_type_id,name,sku,instance_hours,peak_instances,capacity,overage_hours"
    )
    assert lines[1].startswith(f"{licensed.tenant_id},Licensed,2026-11,{licensed.lic_type_id},Max,VLM-MAX-SPLA,1,1,4,0")
    assert len(lines) == 2
    assert {line.split(",")[0] for line in billing.body.splitlines()[1:]} == {licensed.tenant_id, other.tenant_id}
    assert {t["tenant_id"] for t in every["tenants"]} == {licensed.tenant_id, other.tenant_id}


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "november", "", "2026-11-01"])
def test_bad_month_is_a_400(api, licensed, month):
    for path in ("/v1/usage", "/v1/usage.csv"):
        reply = api.get(f"{path}?month={month}", headers=licensed.admin)

        assert reply.status == 400 and reply.code == "VALIDATION_ERROR"


# Overage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy, granted", [("NO_OVERAGE", 4), ("ALLOW_1_25X", 5), ("ALLOW_1_5X", 6), ("ALLOW_2X", 8), ("ALWAYS_ALLOW", 10)]
)
def test_overage_policy_grants_past_capacity_up_to_its_limit(api, licensed, policy, granted):
    api.patch(f"/v1/license-types/{licensed.lic_type_id}", {"overage_policy": policy}, headers=licensed.admin)

    replies = [_activate(api, licensed, n) for n in range(1, 11)]

    assert sum(r.status == 201 for r in replies) == granted
    assert {r.code for r in replies if r.status != 201} <= {"INSTANCE_LIMIT_REACHED"}
    pool = api.get(f"/v1/license-types/{licensed.lic_type_id}", headers=licensed.admin).body
    assert (pool["in_use"], pool["overage"]) == (granted, max(granted - 4, 0))


@pytest.mark.parametrize(
    "capacity, policy, granted",
    [
        (3, "ALLOW_1_25X", 4),
        (1, "ALLOW_1_25X", 2),
        (5, "ALLOW_1_25X", 7),
        (3, "ALLOW_1_5X", 5),
        (1, "ALLOW_1_5X", 2),
        (0, "ALLOW_2X", 0),
    ],
)
def test_a_fraction_of_an_instance_of_overage_is_rounded_up(api, licensed_tenant, capacity, policy, granted):
    # Given a pool whose capacity times its policy's factor is not a whole number
    keys = licensed_tenant(capacity)
    api.patch(f"/v1/license-types/{keys.lic_type_id}", {"overage_policy": policy}, headers=keys.admin)

    # When more LoadMasters ask than it may hold
    replies = [_activate(api, keys, n) for n in range(1, granted + 3)]

    # Then it grants up to the limit rounded up (3 x 1.25 = 3.75: 4), never silently none
    assert sum(r.status == 201 for r in replies) == granted
    assert {r.code for r in replies if r.status != 201} == {"INSTANCE_LIMIT_REACHED"}


def test_overage_is_metered_and_logged(api, licensed, sweep):
    api.patch(f"/v1/license-types/{licensed.lic_type_id}", {"overage_policy": "ALLOW_1_5X"}, headers=licensed.admin)
    for n in range(1, 7):
        _activate(api, licensed, n)
    sweep("meter_usage", T0)
    sweep("meter_usage", T0 + timedelta(hours=1))

    [pool] = api.get("/v1/usage?month=2026-11", headers=licensed.admin).body["license_types"]
    log = api.get("/v1/events?limit=100", headers=licensed.admin).body["events"]

    assert (pool["instance_hours"], pool["overage_hours"]) == (12, 4)
    assert sum(1 for e in log if e["kind"] == "activation.granted" and e["detail"].get("overage")) == 2


def test_a_trial_keeps_the_hard_limit(api, trial_tenant):
    lic_type_id = api.get("/v1/license-types", headers=trial_tenant.admin).body["license_types"][0]["lic_type_id"]

    reply = api.patch(
        f"/v1/license-types/{lic_type_id}", {"overage_policy": "ALWAYS_ALLOW"}, headers=trial_tenant.admin
    )

    assert reply.status == 409 and reply.code == "CONFLICT"


def test_unknown_overage_policy_is_a_validation_error(api, licensed):
    reply = api.patch(
        f"/v1/license-types/{licensed.lic_type_id}", {"overage_policy": "ALLOW_10X"}, headers=licensed.admin
    )

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"


def test_a_refusal_in_the_log_carries_the_seeds_message(api, licensed):
    activate(api, licensed, licensed.lic_type_id, sku="VLM-200-SPLA", mac="00:50:56:00:30:09", ip="10.4.0.9")

    [refusal] = [
        e for e in api.get("/v1/events", headers=licensed.admin).body["events"] if e["kind"] == "activation.refused"
    ]

    assert refusal["code"] == "NO_LICENSE_FOR_SKU"
    assert refusal["message"] == "No License configured for LM SKU VLM-200-SPLA."
