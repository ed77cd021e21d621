"""A LoadMaster verifies its lease offline with the JWKS, using any standard JOSE library."""

import json
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError
from joserfc.jwk import KeySet

from chalicelib.security import signing
from tests.conftest import T0, activate, first_type_id


def _verify(token: str, jwks: dict, now):
    claims = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["EdDSA"]).claims
    jwt.JWTClaimsRegistry(now=int(now.timestamp()), exp={"essential": True}).validate(claims)
    return claims


def _lease(api, keys):
    granted = activate(api, keys, first_type_id(api, keys)).body
    return granted, api.get("/v1/.well-known/jwks.json").body


def test_lease_verifies_with_the_published_keys_and_carries_its_claims(api, trial_tenant):
    granted, jwks = _lease(api, trial_tenant)

    claims = _verify(granted["license"], jwks, T0)

    assert claims["sub"] == granted["device_id"] and claims["tid"] == trial_tenant.tenant_id
    assert claims["sku"] == "VLM-MAX-SPLA" and claims["status"] == "PENDING"
    assert claims["lic_type_id"] == first_type_id(api, trial_tenant)
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600
    header = json.loads(signing.b64url_decode(granted["license"].split(".")[0]))
    assert header["alg"] == "EdDSA" and header["kid"] in {k["kid"] for k in jwks["keys"]}


def test_expired_lease_is_rejected(api, trial_tenant):
    granted, jwks = _lease(api, trial_tenant)

    with pytest.raises(ExpiredTokenError):
        _verify(granted["license"], jwks, T0 + timedelta(days=8))


def test_tampered_lease_is_rejected(api, trial_tenant):
    granted, jwks = _lease(api, trial_tenant)
    header, claims, signature = granted["license"].split(".")
    forged = json.loads(signing.b64url_decode(claims)) | {"exp": 4102444800}
    tampered = f"{header}.{signing.b64url(json.dumps(forged).encode())}.{signature}"

    with pytest.raises(BadSignatureError):
        _verify(tampered, jwks, T0)


def test_check_in_renews_the_lease(api, trial_tenant, clock):
    granted, jwks = _lease(api, trial_tenant)
    clock.set_now(T0 + timedelta(days=6))
    body = {"mac": "00:50:56:aa:bb:01", "ip": "10.0.0.5", "port": 443, "version": "7.2.47"}

    renewed = api.post(
        f"/v1/devices/{granted['device_id']}/check-ins",
        body,
        headers={"Authorization": f"Device {granted['device_token']}"},
    ).body

    assert _verify(renewed["license"], jwks, T0 + timedelta(days=12))["sub"] == granted["device_id"]


def test_jwks_publishes_every_key_of_a_rotation(api, trial_tenant, monkeypatch):
    old = json.loads(signing.new_secret_value("k-old"))
    new = json.loads(signing.new_secret_value("k-new"))
    rotated = json.dumps({"active_kid": "k-new", "keys": old["keys"] + new["keys"]})
    monkeypatch.setattr(signing, "_load_secret", lambda: rotated)
    signing.reset_key_ring()

    jwks = api.get("/v1/.well-known/jwks.json").body
    granted, _ = _lease(api, trial_tenant)

    assert {k["kid"] for k in jwks["keys"]} == {"k-old", "k-new"}
    assert json.loads(signing.b64url_decode(granted["license"].split(".")[0]))["kid"] == "k-new"
    assert _verify(granted["license"], jwks, T0)["sub"] == granted["device_id"]


def test_a_retired_key_is_not_published_but_still_verifies_the_device_tokens_it_signed(api, trial_tenant, monkeypatch):
    old = json.loads(signing.new_secret_value("k-old"))
    monkeypatch.setattr(signing, "_load_secret", lambda: json.dumps(old))
    signing.reset_key_ring()
    granted, _ = _lease(api, trial_tenant)
    new = json.loads(signing.new_secret_value("k-new"))
    retired = new | {"retired": [signing.public_half(old["keys"][0])]}
    monkeypatch.setattr(signing, "_load_secret", lambda: json.dumps(retired))
    signing.reset_key_ring()

    jwks = api.get("/v1/.well-known/jwks.json").body
    renewed = api.post(
        f"/v1/devices/{granted['device_id']}/check-ins",
        {"mac": "00:50:56:aa:bb:01", "ip": "10.0.0.5", "port": 443, "version": "7.2.47"},
        headers={"Authorization": f"Device {granted['device_token']}"},
    )

    assert [k["kid"] for k in jwks["keys"]] == ["k-new"]
    assert renewed.status == 200, renewed.body
    assert _verify(renewed.body["license"], jwks, T0)["sub"] == granted["device_id"]


def test_the_jwks_may_be_kept_five_minutes(api):
    # The key rotation's activate step waits for it (infra/rotate_key.py, JWKS_MAX_AGE_S).
    reply = api.get("/v1/.well-known/jwks.json")

    assert reply.headers["Cache-Control"] == "public, max-age=300"


def test_health_reports_the_table_and_the_signing_key(api):
    reply = api.get("/v1/health")

    assert reply.status == 200
    assert reply.body["checks"] == {"dynamodb": "ok", "signing_key": "ok"}
