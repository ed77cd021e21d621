"""Bad input: a 4xx with the contract's code, nothing written, never a 5xx."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LM, first_type_id, operator_headers

BAD_BODIES = [
    b"{not json",
    b"[]",
    b'"a string"',
    b"\xff\xfe\x00",
    b"",
    json.dumps({**LM, "port": "not-a-port"}).encode(),
    json.dumps({**LM, "port": 70000}).encode(),
    json.dumps({**LM, "mac": "zz:zz"}).encode(),
    json.dumps({**LM, "ip": "10.0.0.999"}).encode(),
    json.dumps({k: v for k, v in LM.items() if k != "sku"}).encode(),
    json.dumps({**LM, "existing_license": "yes"}).encode(),
    json.dumps({**LM, "sku": ["list"]}).encode(),
    json.dumps({**LM, "image": "x" * 20000}).encode(),
]


def _in_use(api, keys):
    return api.get("/v1/license", headers=keys.admin).body["in_use"]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_loadmaster_bad_body_is_invalid_initialization(api, trial_tenant, body):
    lic_type_id = first_type_id(api, trial_tenant)
    with_type = body
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            with_type = json.dumps({**data, "lic_type_id": lic_type_id}).encode()
    except ValueError:
        pass

    listing = api.post("/v1/activation/license-types", raw=body, headers=trial_tenant.loadmaster)
    activation = api.post("/v1/activations", raw=with_type, headers=trial_tenant.loadmaster)

    for reply in (listing, activation):
        assert reply.status == 400, reply.body
        assert reply.body["error"] == {
            "code": "INVALID_INITIALIZATION",
            "message": "Invalid local license initialization.",
            "detail": reply.body["error"]["detail"],
        }
    assert _in_use(api, trial_tenant) == 0


def test_unknown_loadmaster_fields_are_ignored(api, trial_tenant):
    body = {**LM, "lic_type_id": first_type_id(api, trial_tenant), "firmware_extra": {"nested": [1, 2]}}

    reply = api.post("/v1/activations", body, headers=trial_tenant.loadmaster)

    assert reply.status == 201


def test_bad_idempotency_key_is_invalid_initialization(api, trial_tenant):
    body = {**LM, "lic_type_id": first_type_id(api, trial_tenant)}

    reply = api.post("/v1/activations", body, headers={**trial_tenant.loadmaster, "Idempotency-Key": "x" * 300})

    assert reply.status == 400 and reply.code == "INVALID_INITIALIZATION"
    assert _in_use(api, trial_tenant) == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "", "owner_email": "a@b.example"}, "name"),
        ({"name": "A", "owner_email": "not-an-email"}, "owner_email"),
        ({"name": "A", "owner_email": "a@b.example", "surprise": 1}, "surprise"),
        ({"name": 7, "owner_email": "a@b.example"}, "name"),
    ],
)
def test_operator_bad_body_is_validation_error_naming_the_field(api, body, field):
    reply = api.post("/v1/tenants", body, headers=operator_headers())

    assert reply.status == 400
    assert reply.code == "VALIDATION_ERROR"
    assert field in reply.body["error"]["detail"]["fields"]
    assert api.get("/v1/tenants", headers=operator_headers()).body["tenants"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"days": 0},
        {"instances": -1},
        {"skus": []},
        {"skus": ["bad sku!"]},
        {"days": "many"},
    ],
)
def test_bad_trial_is_validation_error_and_starts_nothing(api, new_tenant, body):
    keys = new_tenant()

    reply = api.post(f"/v1/tenants/{keys.tenant_id}/trial", body, headers=operator_headers())

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"
    assert api.get("/v1/license", headers=keys.admin).body["state"] == "UNLICENSED"


@pytest.mark.parametrize(
    "body",
    [
        {"contract_id": "C", "capacity": 0, "starts_at": "2026-11-01T00:00:00Z"},
        {"contract_id": "C", "capacity": 5, "starts_at": "yesterday"},
        {"contract_id": "C", "capacity": 5, "starts_at": "2026-11-01T00:00:00"},
        {"capacity": 5, "starts_at": "2026-11-01T00:00:00Z"},
    ],
)
def test_bad_contract_is_validation_error(api, new_tenant, body):
    keys = new_tenant()

    reply = api.post(f"/v1/tenants/{keys.tenant_id}/contracts", body, headers=operator_headers())

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"


def test_oversized_body_is_refused_before_parsing(api):
    body = {"name": "A" * 100, "owner_email": "a@b.example", "pad": "x" * 40000}

    reply = api.post("/v1/tenants", body, headers=operator_headers())

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"
    assert "body" in reply.body["error"]["detail"]["fields"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=st.dictionaries(st.sampled_from([*LM, "lic_type_id", "existing_license"]), json_values, max_size=4))
def test_no_mangled_activation_produces_a_5xx(api, trial_tenant, overrides):
    reply = api.post("/v1/activations", {**LM, "lic_type_id": "lt-x", **overrides}, headers=trial_tenant.loadmaster)

    assert reply.status < 500, reply.body
    assert "error" in reply.body or reply.status == 201


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_other_content_types_are_answered_in_the_contracts_terms(api, trial_tenant, content_type):
    body = json.dumps({**LM, "lic_type_id": first_type_id(api, trial_tenant)})

    as_text = api.post("/v1/activations", raw=body, headers={**trial_tenant.loadmaster, "Content-Type": content_type})
    form = api.post(
        "/v1/activations", raw="mac=1&ip=2", headers={**trial_tenant.loadmaster, "Content-Type": content_type}
    )

    assert as_text.status == 201
    assert form.status == 400 and form.code == "INVALID_INITIALIZATION"
