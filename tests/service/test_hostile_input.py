"""Hostile input to every route of the app, authenticated and not: never a 5xx, and every error
in the contract's body. Property-based and seeded (a failure prints the request and the
``@reproduce_failure`` blob); the routes come from ``OPERATIONS``, so a new route is fuzzed too."""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.api.errors import STATUS
from chalicelib.api.http import OPERATIONS
from chalicelib.domain.errors import Code
from tests.conftest import LM, activate, first_type_id, operator_headers
from tests.unit.test_parsers import bodies, hostile_json_texts, json_values, tokens

ROUTE_FUZZ = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def operations() -> list:
    """Every operation of the app (declared as its blueprints are imported)."""
    import app  # noqa: F401

    return sorted({(op.method, op.path): op for op in OPERATIONS}.values(), key=lambda op: (op.path, op.method))


# A body each operation accepts, to be spoiled one field at a time (so the fuzz gets past the
# first field check and reaches the deeper ones).
VALID_BODIES = {
    "LoadMasterRequest": LM,
    "ActivationRequest": {**LM, "lic_type_id": "<lic_type_id>"},
    "CheckInRequest": {k: LM[k] for k in ("mac", "ip", "port", "version")},
    "LicenseTypeCreateRequest": {"name": "Fuzz", "sku": "VLM-MAX-SPLA", "capacity": 0},
    "LicenseTypeUpdateRequest": {"name": "Renamed"},
    "SettingsUpdateRequest": {"check_in_interval_s": 3600},
    "ReplaceRequest": {"mac": "00:50:56:aa:bb:99", "ip": "10.0.9.9", "port": 443},
    "KeyRotateRequest": {"kind": "<never a valid kind>"},  # a rotation would end the fuzz's keys
    "TenantCreateRequest": {"name": "Fuzz", "owner_email": "fuzz@acme.example"},
    "TrialRequest": {},
    "ContractRequest": {"contract_id": "C-F", "capacity": 5, "starts_at": "2026-11-01T00:00:00Z"},
    "OwnerRequest": {"owner_email": "owner@acme.example"},
}

HOSTILE_TEXTS = st.text(max_size=40) | st.sampled_from(
    [
        "x" * 3000,
        "..",
        "%00",
        "\x00",
        "é" * 50,
        "\ud800",
        "' OR 1=1 --",
        "${jndi:ldap://x}",
        "../../etc/passwd",
        "9" * 5000,
        "NaN",
        "-1",
        "0",
        "1e999",
    ]
)


def assert_contract_answer(reply, request: str) -> None:
    """No 5xx; an error carries exactly the contract's body, with its code's status."""
    assert reply.status < 500, f"{request} -> {reply.status} {reply.body!r}"
    if reply.status < 400:
        return
    body = reply.body
    assert isinstance(body, dict) and set(body) == {"error"}, f"{request} -> {reply.status} {body!r}"
    error = body["error"]
    assert set(error) == {"code", "message", "detail"}, f"{request} -> {body!r}"
    assert error["code"] in Code.__members__ and STATUS[Code(error["code"])] == reply.status, f"{request} -> {body!r}"
    assert isinstance(error["message"], str) and isinstance(error["detail"], dict)
    assert "Traceback" not in json.dumps(body)


@pytest.fixture
def generous_limits(monkeypatch, user_pool):
    """Refusals are rate limited per key (and accounts' attempts per email and address); the fuzz
    wants each one answered for its own reason. Accounts are on (``user_pool``)."""
    from chalicelib.startup import configure
    from tests.conftest import SETTINGS

    configure(
        SETTINGS.model_copy(
            update={
                "refusals_per_key_per_minute": 1_000_000,
                "activations_per_mac_per_hour": 1_000_000,
                "account_attempts_per_email_per_hour": 1_000_000,
                "account_attempts_per_address_per_hour": 1_000_000,
                "cognito_user_pool_id": user_pool[0],
                "cognito_client_id": user_pool[1],
            }
        )
    )
    yield
    configure(SETTINGS)


@pytest.fixture
def world(api, generous_limits, accounts, verify_user_attribute):
    """One tenant on trial with an activated device, and every role's credential (its owner's
    access token for the account roles)."""
    owner, trial_tenant = accounts.owning("owner@fuzz.example")
    assert api.post(f"/v1/tenants/{trial_tenant.tenant_id}/trial", {}, headers=operator_headers()).status == 201
    lic_type_id = first_type_id(api, trial_tenant)
    granted = activate(api, trial_tenant, lic_type_id)
    assert granted.status == 201, granted.body
    ids = {
        "tenant_id": trial_tenant.tenant_id,
        "device_id": granted.body["device_id"],
        "lic_type_id": lic_type_id,
        "account_id": owner.account_id,
    }
    credentials = {
        "operator": operator_headers(),
        "tenant": trial_tenant.admin,
        "activation": trial_tenant.loadmaster,
        "device": {"Authorization": f"Device {granted.body['device_token']}"},
    }
    credentials["tenant_or_operator"] = credentials["tenant"]
    credentials["account"] = credentials["tenant_manager"] = credentials["tenant_owner"] = owner.headers
    return {"ids": ids, "credentials": credentials}


def _headers(data, op, world) -> tuple[str, dict[str, str]]:
    credentials = world["credentials"]
    variant = data.draw(st.sampled_from(["valid", "valid", "none", "hostile", "other role", "lower-case scheme"]))
    headers: dict[str, str] = {}
    if variant in ("valid", "lower-case scheme") and op.auth:
        headers = dict(credentials[op.auth])
        if variant == "lower-case scheme" and "Authorization" in headers:
            scheme, _, value = headers["Authorization"].partition(" ")
            headers["Authorization"] = f"{scheme.lower()} {value}"
    elif variant == "other role":
        headers = dict(credentials[data.draw(st.sampled_from(sorted(credentials)))])
    elif variant == "hostile":
        value = data.draw(
            HOSTILE_TEXTS
            | tokens()
            | st.builds(lambda s, t: f"{s} {t}", st.sampled_from(["Device", "Bearer", "device"]), tokens())
        )
        headers[data.draw(st.sampled_from(["Authorization", "X-Activation-Key"]))] = value
    if data.draw(st.booleans()):
        headers["Idempotency-Key"] = data.draw(HOSTILE_TEXTS)
    if data.draw(st.booleans()):
        headers["Content-Type"] = data.draw(st.sampled_from(["application/json", "text/plain", "", "*/*;;;", "é"]))
    return variant, headers


def _path(data, op, world) -> str:
    path = op.path
    for name, real in world["ids"].items():
        if "{" + name + "}" in path:
            value = data.draw(st.just(real) | st.just(real) | HOSTILE_TEXTS.filter(bool))
            path = path.replace("{" + name + "}", quote(value, safe="", errors="surrogatepass"))
    if op.query is not None:
        fields = sorted(op.query.model_fields)
        values = HOSTILE_TEXTS | tokens() | st.sampled_from(["1", "50", "2026-11", "ACTIVE", LM["mac"]])
        query = data.draw(st.dictionaries(st.sampled_from(fields) | st.text(max_size=8), values, max_size=3))
        if query:
            path += "?" + urlencode(query, errors="surrogatepass")
    return path


def _body(data, op, world) -> bytes | None:
    if op.method in ("GET", "DELETE") and data.draw(st.booleans()):
        return None
    valid = VALID_BODIES.get(op.body.__name__) if op.body is not None else None
    if valid is None or data.draw(st.booleans()):
        return data.draw(bodies)
    valid = {k: (world["ids"]["lic_type_id"] if v == "<lic_type_id>" else v) for k, v in valid.items()}
    field = data.draw(st.sampled_from(sorted(valid) or ["extra"]) | st.text(max_size=8))
    if data.draw(st.booleans()):
        return json.dumps({**valid, field: data.draw(json_values)}).encode()
    # What json.dumps cannot write: deep nesting, huge numbers, NaN, lone surrogates.
    text = json.dumps({**valid, field: "@@hostile@@"}).replace('"@@hostile@@"', data.draw(hostile_json_texts))
    return text.encode("utf-8", "surrogatepass")


def test_no_route_answers_hostile_input_with_a_5xx_or_off_contract(api, world):
    answered: dict[tuple[str, str], Counter] = defaultdict(Counter)
    # What ends the world's device or tenant goes last, so the others meet them alive.
    ops = sorted(
        operations(),
        key=lambda op: (op.method == "DELETE" or op.path.endswith(("/terminate", "/deactivate")), op.path, op.method),
    )

    for op in ops:
        _fuzz(api, world, op, answered[(op.method, op.path)])

    # What the fuzz covered: every operation, and past authentication with valid credentials
    # (an answer other than 401/403) for every operation that needs one.
    assert len(ops) >= 30 and set(answered) == {(op.method, op.path) for op in ops}
    for op in ops:
        statuses = answered[(op.method, op.path)]
        if op.auth:
            assert any(v == "valid" and s not in (401, 403) for v, s in statuses), (op.method, op.path, statuses)
    successes = sum(n for statuses in answered.values() for (_, s), n in statuses.items() if s < 300)
    assert successes >= 25, dict(answered)
    print("\nanswers per operation:", {f"{m} {p}": dict(c) for (m, p), c in sorted(answered.items())})


def _fuzz(api, world, op, answered: Counter) -> None:
    @ROUTE_FUZZ
    @given(data=st.data())
    def fuzz(data):
        variant, headers = _headers(data, op, world)
        path, body = _path(data, op, world), _body(data, op, world)
        request = f"{op.method} {path} headers={headers!r} body={body!r:.300}"

        reply = api.call(op.method, path, headers=headers, raw=body)

        assert_contract_answer(reply, request)
        answered[(variant, reply.status)] += 1

    fuzz()


# The malformed inputs of issue 11, each once, by name ----------------------------------------------


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _forged(header: dict, claims: dict | None = None) -> str:
    return f"{_b64(header)}.{_b64(claims or {'sub': 'd'})}.{_b64('x' * 40)}"


FORGED_DEVICE_TOKENS = {
    "kid-list": _forged({"alg": "EdDSA", "typ": "device+jwt", "kid": ["a"]}),
    "kid-object": _forged({"alg": "EdDSA", "typ": "device+jwt", "kid": {"a": 1}}),
    "header-list": f"{_b64(['EdDSA'])}.{_b64({})}.AAAA",
    "header-deep": f"{base64.urlsafe_b64encode(b'[' * 5000).decode()}.{_b64({})}.AAAA",
    "non-ascii": "é.é.é",
    "huge": "a" * 100_000,
}


@pytest.mark.parametrize("token", FORGED_DEVICE_TOKENS.values(), ids=FORGED_DEVICE_TOKENS.keys())
def test_a_forged_device_token_is_verify_failed(api, world, token):
    device_id = world["ids"]["device_id"]
    check_in = {k: LM[k] for k in ("mac", "ip", "port", "version")}

    replies = {
        action: api.post(f"/v1/devices/{device_id}/{action}", check_in, headers={"Authorization": f"Device {token}"})
        for action in ("confirm", "check-ins", "deactivate")
    }

    assert {a: (r.status, r.code) for a, r in replies.items()} == {a: (401, "VERIFY_FAILED") for a in replies}, {
        a: r.body for a, r in replies.items()
    }


HOSTILE_BODIES = {
    "nested-1000": "[" * 1000 + "]" * 1000,
    "object-nested-1000": '{"name":' * 1000 + "1" + "}" * 1000,
    "int-5000-digits": '{"name": "x", "sku": "VLM-MAX-SPLA", "capacity": ' + "9" * 5000 + "}",
    "nan": '{"name": "x", "sku": "VLM-MAX-SPLA", "capacity": NaN}',
    "infinity": '{"name": "x", "sku": "VLM-MAX-SPLA", "capacity": 1e999}',
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_a_hostile_body_is_validation_error_for_an_admin_and_invalid_initialization_for_a_loadmaster(api, world, body):
    credentials = world["credentials"]

    admin = api.post("/v1/license-types", raw=body, headers=credentials["tenant"])
    loadmaster = api.post("/v1/activations", raw=body.replace('"name"', '"mac"'), headers=credentials["activation"])

    assert admin.status == 400 and admin.body["error"]["code"] == "VALIDATION_ERROR", admin.body
    assert loadmaster.status == 400 and loadmaster.body["error"]["code"] == "INVALID_INITIALIZATION", loadmaster.body


@pytest.mark.parametrize("kid", [["a"], {"a": 1}], ids=["list", "object"])
def test_a_forged_cursor_is_a_validation_error(api, world, kid):
    cursor = quote(_forged({"alg": "EdDSA", "typ": "cursor", "kid": kid}, {"k": {}, "s": "x"}))
    admin = world["credentials"]["tenant"]

    listings = {"/v1/devices": admin, "/v1/events": admin, "/v1/tenants": operator_headers()}

    replies = {path: api.get(f"{path}?next={cursor}", headers=headers) for path, headers in listings.items()}

    assert {p: (r.status, r.code) for p, r in replies.items()} == {p: (400, "VALIDATION_ERROR") for p in replies}, {
        p: r.body for p, r in replies.items()
    }


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(api, world, scheme):
    key = world["credentials"]["tenant"]["Authorization"].split(" ", 1)[1]

    admin = api.get("/v1/license", headers={"Authorization": f"{scheme} {key}"})
    operator = api.get("/v1/tenants", headers={"Authorization": f"{scheme} {operator_headers()['Authorization'][7:]}"})

    assert admin.status == 200 and operator.status == 200


@pytest.mark.parametrize("scheme", ["device", "DEVICE"])
def test_the_device_scheme_is_case_insensitive(api, world, scheme):
    token = world["credentials"]["device"]["Authorization"].split(" ", 1)[1]

    reply = api.post(f"/v1/devices/{world['ids']['device_id']}/confirm", headers={"Authorization": f"{scheme} {token}"})

    assert reply.status == 200, reply.body


# Unsupported methods ----------------------------------------------------------------------------------


def test_every_unsupported_method_of_every_path_is_405_in_the_contracts_body(api):
    from app import app

    for path, routes in sorted(app.routes.items()):
        concrete = path.replace("{", "x").replace("}", "")
        for method in sorted(set(METHODS) - set(routes)):
            reply = api.call(method, concrete)

            assert reply.status == 405, (method, path, reply.body)
            assert reply.body == {
                "error": {
                    "code": "METHOD_NOT_ALLOWED",
                    "message": "This method is not allowed on this path.",
                    "detail": {},
                }
            }
            allowed = {m.strip() for m in reply.headers.get("Allow", reply.headers.get("allow", "")).split(",")}
            assert allowed == set(routes), (method, path, reply.headers)


@pytest.mark.parametrize("key", ["k\n", "", "é", "x" * 129, "a b", "\x00"], ids=repr)
def test_a_malformed_idempotency_key_is_invalid_initialization(api, world, key):
    body = {**LM, "lic_type_id": world["ids"]["lic_type_id"], "mac": "00:50:56:aa:bb:77", "ip": "10.7.7.7"}

    reply = api.post("/v1/activations", body, headers={**world["credentials"]["activation"], "Idempotency-Key": key})

    assert reply.status == 400 and reply.code == "INVALID_INITIALIZATION", reply.body
