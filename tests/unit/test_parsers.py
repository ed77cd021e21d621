"""Every parser of untrusted bytes (bodies, query strings, tokens, cursors, credentials) answers
arbitrary input with its value or the contract's refusal, never with another exception (which
the routes would turn into a 500). Property-based, seeded: a failure prints the example and
``@reproduce_failure`` blob to replay it."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from chalicelib.api import http
from chalicelib.api.schemas import ActivationRequest, CheckInRequest, DeviceQuery, EventQuery, PageQuery, UsageQuery
from chalicelib.domain.errors import Code, DomainError
from chalicelib.security import auth, cursors, signing
from chalicelib.security.refreshed import Refreshed
from chalicelib.security.signing import InvalidToken, new_secret_value, parse_secret
from chalicelib.security.tokens import DEVICE_TOKEN_TYP, verify_device_token

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DEVICE_ID = "7d8f6a52-0c1e-4b8e-9f3a-2b1c0d9e8f7a"
CLAIMS = {"sub": DEVICE_ID, "tid": "t0123456789abcdef", "ver": 1, "mac": "00:50:56:aa:bb:01"}


@pytest.fixture
def ring(monkeypatch):
    """A key ring and a cursor key in memory, installed as the container's, so no Secrets Manager
    is needed."""
    key_ring = parse_secret(new_secret_value("k-test"))
    monkeypatch.setattr(signing, "_ring", Refreshed("signing keys", lambda: key_ring, 300))
    monkeypatch.setattr(cursors, "_key", Refreshed("cursor key", lambda: b"cursor-key-for-the-unit-tests-32", 300))
    return key_ring


def signed_cursor(claims) -> str:
    """A cursor signed with the cursor key, whatever its claims."""
    payload = b64(json.dumps(claims).encode())
    return f"{payload}.{b64(cursors._mac(payload))}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value) -> str:
    return b64(json.dumps(value).encode())


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# Hostile inputs ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)

# What json.dumps cannot make but an attacker can send.
hostile_json_texts = st.sampled_from(
    [
        nested(1000),
        '{"a":' * 1000 + "1" + "}" * 1000,
        nested(33),
        "1" * 5000,
        '{"port": ' + "9" * 5000 + "}",
        '{"port": 1' + "0" * 400 + "}",
        '{"port": 1e999999}',
        '{"port": -1e999999}',
        '{"port": 1.' + "5" * 5000 + "}",
        '{"port": NaN}',
        '{"port": Infinity}',
        '{"port": -Infinity}',
        '{"mac": "\\ud800"}',
        '{"sku": "\\udfff\\ud800"}',
        '{"a": 1, "a": 2}',
        '{"image": "' + "x" * 10000 + '"}',
        "\ufeff{}",
        "[" * 100000,
        '"' + "\\" * 3000,
    ]
)

json_texts = json_values.map(json.dumps) | hostile_json_texts | st.text(max_size=200)
bodies = (
    st.binary(max_size=300)
    | json_texts.map(lambda text: text.encode("utf-8", "surrogatepass"))
    | st.builds(
        lambda v: json.dumps(
            {"mac": v, "ip": v, "port": v, "sku": v, "image": v, "version": v, "lic_type_id": v, "existing_license": v}
        ).encode(),
        json_values,
    )
)

header_values = json_values | st.sampled_from(
    [
        {"alg": "EdDSA", "typ": DEVICE_TOKEN_TYP, "kid": ["k-test"]},
        {"alg": "EdDSA", "typ": DEVICE_TOKEN_TYP, "kid": {"k": "k-test"}},
        {"alg": ["EdDSA"], "typ": DEVICE_TOKEN_TYP, "kid": "k-test"},
        {"alg": "EdDSA", "typ": {"t": 1}, "kid": "k-test"},
        {"alg": "none", "typ": DEVICE_TOKEN_TYP, "kid": "k-test"},
        {"alg": "EdDSA", "typ": "cursor", "kid": "k-test"},
        {"alg": "EdDSA", "typ": DEVICE_TOKEN_TYP, "kid": None},
        ["EdDSA"],
    ]
)

raw_segments = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=60).map(b64),
    json_values.map(segment),
    hostile_json_texts.map(lambda text: b64(text.encode("utf-8", "surrogatepass"))),
)


@st.composite
def tokens(draw):
    """Mostly token-shaped strings: a header of any shape, any claims, any signature."""
    kind = draw(st.sampled_from(["shaped", "raw", "dots", "huge"]))
    if kind == "shaped":
        header = draw(header_values.map(segment) | raw_segments)
        claims = draw(st.just(segment(CLAIMS)) | json_values.map(segment) | raw_segments)
        signature = draw(st.binary(min_size=0, max_size=70).map(b64) | st.text(max_size=10))
        return f"{header}.{claims}.{signature}"
    if kind == "dots":
        return ".".join(draw(st.lists(raw_segments, min_size=0, max_size=6)))
    if kind == "huge":
        return ".".join(["e" * draw(st.integers(1, 200_000))] * 3)
    return draw(st.text(max_size=300))


# Tokens -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kid", [["k-test"], {"k": "k-test"}, 1, None, True], ids=repr)
def test_a_token_whose_kid_is_not_a_string_is_invalid(ring, kid):
    token = f"{segment({'alg': 'EdDSA', 'typ': DEVICE_TOKEN_TYP, 'kid': kid})}.{segment(CLAIMS)}.{b64(b'x' * 64)}"

    with pytest.raises(InvalidToken):
        ring.verify(token, DEVICE_TOKEN_TYP)


@pytest.mark.parametrize(
    "token",
    [
        f"{b64(nested(5000).encode())}.{segment(CLAIMS)}.sig",
        f"{b64(('1' * 5000).encode())}.{segment(CLAIMS)}.sig",
        "é" * 10 + ".a.b",
        "a.b.c.d",
        "a.b",
        "",
        "x" * 1_000_000,
    ],
    ids=["deep-header", "huge-int-header", "non-ascii", "four-parts", "two-parts", "empty", "huge"],
)
def test_a_malformed_token_is_invalid(ring, token):
    with pytest.raises(InvalidToken):
        ring.verify(token, DEVICE_TOKEN_TYP)


def test_a_valid_token_still_verifies(ring):
    token = ring.sign(CLAIMS, DEVICE_TOKEN_TYP)

    assert ring.verify(token, DEVICE_TOKEN_TYP) == CLAIMS
    assert verify_device_token(token).device_id == DEVICE_ID


@FUZZ
@given(token=tokens())
def test_verify_answers_any_token_with_claims_or_invalid_token(ring, token):
    try:
        claims = ring.verify(token, DEVICE_TOKEN_TYP)
    except InvalidToken:
        return
    assert isinstance(claims, dict)  # only our own signature gets here


@FUZZ
@given(token=tokens())
def test_verify_device_token_answers_any_token_with_a_credential_or_invalid_token(ring, token):
    with pytest.raises(InvalidToken):
        verify_device_token(token)


@FUZZ
@given(claims=json_values, typ=st.sampled_from([DEVICE_TOKEN_TYP, "cursor", "JWT"]))
def test_a_signed_token_with_any_claims_is_a_credential_or_invalid(ring, claims, typ):
    token = ring.sign(claims, typ) if isinstance(claims, dict) else ring.sign({"c": claims}, typ)

    try:
        credential = verify_device_token(token)
    except InvalidToken:
        return
    assert typ == DEVICE_TOKEN_TYP and credential.device_id == claims["sub"]


# Cursors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kid", [["k-test"], {"k": "k-test"}], ids=["list", "object"])
def test_a_cursor_whose_kid_is_not_a_string_is_a_validation_error(ring, kid):
    cursor = f"{segment({'alg': 'EdDSA', 'typ': 'cursor', 'kid': kid})}.{segment({'k': {}, 's': 't1'})}.AAAA"

    with pytest.raises(DomainError) as refused:
        http.decode_cursor(cursor, "t1")

    assert refused.value.code == Code.VALIDATION_ERROR


@FUZZ
@given(cursor=tokens() | st.builds(lambda k, s: (k, s), json_values, json_values))
def test_decode_cursor_answers_any_cursor_with_a_key_or_a_validation_error(ring, cursor):
    if isinstance(cursor, tuple):  # signed by us, but with claims of any shape
        cursor = signed_cursor({"k": cursor[0], "s": cursor[1]})
    try:
        key = http.decode_cursor(cursor, "t1")
    except DomainError as e:
        assert e.code == Code.VALIDATION_ERROR
        return
    assert key is None or isinstance(key, dict)


def test_a_cursor_round_trips(ring):
    cursor = http.encode_cursor({"pk": "a", "sk": "b"}, "t1")

    assert http.decode_cursor(cursor, "t1") == {"pk": "a", "sk": "b"}


# JSON bodies ------------------------------------------------------------------------------------


class Anything(BaseModel):
    model_config = {"extra": "allow"}


@pytest.mark.parametrize(
    "text",
    [
        nested(1000),
        '{"a":' * 1000 + "1" + "}" * 1000,
        '{"a": ' + nested(32) + "}",
        '{"port": ' + "9" * 5000 + "}",
        '{"port": 1e999999}',
        '{"port": 1.' + "5" * 5000 + "}",
        '{"port": NaN}',
        '{"port": Infinity}',
        '{"port": -Infinity}',
    ],
    ids=["deep-list", "deep-object", "depth-33", "huge-int", "huge-exponent", "long-float", "nan", "inf", "-inf"],
)
def test_a_body_beyond_the_limits_is_a_validation_error(text):
    with pytest.raises(DomainError) as refused:
        http.parse_body(text.encode(), Anything)

    assert refused.value.code == Code.VALIDATION_ERROR
    assert refused.value.detail["fields"]


def test_a_body_within_the_limits_is_parsed():
    text = '{"a": ' + nested(30) + ', "n": 123456789012345678901234567890, "f": 1.5e300, "s": "[{\\"]"}'

    parsed = http.parse_body(text.encode(), Anything)

    assert parsed.n == 123456789012345678901234567890 and parsed.f == 1.5e300 and parsed.s == '[{"]'


@FUZZ
@given(body=bodies, model=st.sampled_from([Anything, ActivationRequest, CheckInRequest]), loadmaster=st.booleans())
def test_parse_body_answers_any_bytes_with_a_model_or_the_callers_refusal(body, model, loadmaster):
    try:
        parsed = http.parse_body(body, model, loadmaster=loadmaster)
    except DomainError as e:
        assert e.code == (Code.INVALID_INITIALIZATION if loadmaster else Code.VALIDATION_ERROR)
        json.dumps(e.detail)  # the detail can be sent as it is
        return
    assert isinstance(parsed, model)


# Query strings ----------------------------------------------------------------------------------

query_texts = st.text(max_size=30) | st.sampled_from(["9" * 5000, "NaN", "-1", "1e999", "0", "\ud800", "x" * 100000])


@FUZZ
@given(
    params=st.none()
    | st.dictionaries(
        st.sampled_from(["limit", "next", "status", "month", "mac", "ip", "device_id", "lic_type_id"])
        | st.text(max_size=10),
        query_texts,
        max_size=4,
    ),
    model=st.sampled_from([PageQuery, DeviceQuery, EventQuery, UsageQuery]),
)
def test_parse_query_answers_any_parameters_with_a_model_or_a_validation_error(params, model):
    try:
        parsed = http.parse_query(params, model)
    except DomainError as e:
        assert e.code == Code.VALIDATION_ERROR
        json.dumps(e.detail)
        return
    assert isinstance(parsed, model)


# Credentials ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Bearer k", "bearer k", "BEARER k", "bEaReR   k"])
def test_the_bearer_scheme_is_matched_case_insensitively(value):
    assert auth._credential({"authorization": value}, "Bearer") == "k"


@pytest.mark.parametrize("value", ["Device t", "device t", "DEVICE t"])
def test_the_device_scheme_is_matched_case_insensitively(value):
    assert auth._credential({"authorization": value}, "Device") == "t"


@pytest.mark.parametrize("value", ["Bearerk", "Bearer", "Bearer ", "Basic k", "Devicet", "k"])
def test_another_scheme_or_no_credential_is_none(value):
    assert auth._credential({"authorization": value}, "Bearer") is None
    assert auth._credential({"authorization": value}, "Device") is None


header_texts = (
    st.text(max_size=60)
    | tokens()
    | st.builds(lambda s, t: f"{s} {t}", st.sampled_from(["Device", "device", "Bearer", "x"]), tokens())
)


@FUZZ
@given(value=header_texts, scheme=st.sampled_from(["Bearer", "Device"]))
def test_credential_answers_any_header_with_a_string_or_none(value, scheme):
    found = auth._credential({"authorization": value}, scheme)

    assert found is None or (isinstance(found, str) and found.isascii() and len(found) <= auth.MAX_CREDENTIAL_LENGTH)


@FUZZ
@given(value=header_texts)
def test_a_device_credential_of_any_shape_is_verify_failed(ring, value):
    with pytest.raises(DomainError) as refused:
        auth.device({"authorization": value}, DEVICE_ID)

    assert refused.value.code == Code.VERIFY_FAILED


def test_a_device_token_is_accepted_with_the_scheme_in_any_case(ring):
    token = ring.sign(CLAIMS, DEVICE_TOKEN_TYP)

    for scheme in ("Device", "device", "DEVICE"):
        assert auth.device({"authorization": f"{scheme} {token}"}, DEVICE_ID).device_id == DEVICE_ID


# Ids in paths and keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["x" * 129, "x" * 3000, "", "a\x00b", "a\nb", "\ud800"],
    ids=["129", "3000", "empty", "nul", "newline", "surrogate"],
)
def test_a_path_parameter_that_cannot_be_an_id_is_not_found_before_the_view(value):
    reached = []
    view = http.guarded(lambda **kwargs: reached.append(kwargs))

    response = view(device_id=value)

    assert (response.status_code, response.body["error"]["code"], reached) == (404, "NOT_FOUND", [])


def test_a_path_parameter_that_can_be_an_id_reaches_the_view():
    view = http.guarded(lambda **kwargs: kwargs)

    assert view(device_id="7d8f6a52-0c1e-4b8e-9f3a-2b1c0d9e8f7a", lic_type_id="x" * 128) == {
        "device_id": "7d8f6a52-0c1e-4b8e-9f3a-2b1c0d9e8f7a",
        "lic_type_id": "x" * 128,
    }


@pytest.mark.parametrize(
    ("check", "headers", "code"),
    [
        (auth.tenant_admin, {"authorization": f"Bearer lk_api.{'t' * 3000}.{'s' * 32}"}, Code.UNAUTHORIZED),
        (auth.operator, {"authorization": f"Bearer lk_api.{'t' * 3000}.{'s' * 32}"}, Code.UNAUTHORIZED),
        (auth.activation, {"x-activation-key": f"lk_act.{'t' * 3000}.{'s' * 32}"}, Code.VERIFY_FAILED),
        (auth.activation, {"x-activation-key": f"lk_act.t\u00e9.{'s' * 32}"}, Code.VERIFY_FAILED),
    ],
    ids=["admin-long-tenant", "operator-long-tenant", "activation-long-tenant", "activation-non-ascii"],
)
def test_a_key_naming_an_impossible_tenant_is_refused_without_a_lookup(monkeypatch, check, headers, code):
    monkeypatch.setattr(auth, "get_tenant", lambda tenant_id: pytest.fail(f"looked up {tenant_id[:20]}..."))

    with pytest.raises(DomainError) as refused:
        check(headers)

    assert refused.value.code == code
