"""Activation churn limits: activations per MAC per hour, refused attempts per key per minute."""

from datetime import timedelta

from tests.conftest import T0, activate, first_type_id, lm


def _churn(api, keys, lic_type_id, times):
    """Activate and give back, ``times`` times, from one MAC; the last answer."""
    reply = None
    for _ in range(times):
        reply = activate(api, keys, lic_type_id)
        if reply.status != 201:
            return reply
        api.post(
            f"/v1/devices/{reply.body['device_id']}/deactivate",
            headers={"Authorization": f"Device {reply.body['device_token']}"},
        )
    return reply


def test_a_mac_activating_too_often_is_rate_limited_until_the_next_hour(api, trial_tenant, clock):
    lic_type_id = first_type_id(api, trial_tenant)
    assert _churn(api, trial_tenant, lic_type_id, 10).status == 201

    limited = activate(api, trial_tenant, lic_type_id)
    other_mac = activate(api, trial_tenant, lic_type_id, mac="00:50:56:aa:bb:77", ip="10.0.0.77")
    clock.set_now(T0 + timedelta(hours=1))
    next_hour = activate(api, trial_tenant, lic_type_id)

    assert limited.status == 429 and limited.code == "RATE_LIMITED"
    assert limited.headers["Retry-After"] == "3600"
    assert other_mac.status == 201
    assert next_hour.status == 201
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 2


def test_a_retry_of_a_held_license_is_answered_even_when_limited(api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    _churn(api, trial_tenant, lic_type_id, 9)
    held = activate(api, trial_tenant, lic_type_id).body

    retry = activate(api, trial_tenant, lic_type_id)

    assert retry.status == 201 and retry.body["device_id"] == held["device_id"]


def test_refused_attempts_past_the_limit_get_429_until_the_next_minute(api, trial_tenant, clock):
    refusals = [
        api.post("/v1/activation/license-types", lm(image="plain.ova"), headers=trial_tenant.loadmaster)
        for _ in range(31)
    ]
    granted = activate(api, trial_tenant, first_type_id(api, trial_tenant))
    clock.set_now(T0 + timedelta(minutes=1))
    next_minute = api.post("/v1/activation/license-types", lm(image="plain.ova"), headers=trial_tenant.loadmaster)

    assert {r.code for r in refusals[:30]} == {"NO_LOCAL_LICENSE"}
    assert refusals[30].status == 429 and refusals[30].code == "RATE_LIMITED"
    assert refusals[30].headers["Retry-After"] == "60"
    assert granted.status == 201
    assert next_minute.code == "NO_LOCAL_LICENSE"
    log = api.get("/v1/events?limit=100", headers=trial_tenant.admin).body["events"]
    assert sum(e["kind"] == "activation.refused" for e in log) == 31
