"""Leases and device tokens through joserfc: the contract's wire format (compact JWS, ``alg:
EdDSA``, ``kid`` and ``typ`` in the header, an OKP/Ed25519 JWK set) and the claim checks, with
keys in memory (no Secrets Manager)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from chalicelib import clock
from chalicelib.security.signing import InvalidToken, b64url, b64url_decode, new_secret_value, parse_secret

NOW = datetime(2026, 12, 1, tzinfo=UTC)
T = int(NOW.timestamp())


@pytest.fixture
def ring(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return parse_secret(new_secret_value("k-test"))


def header_of(token: str) -> dict:
    return json.loads(b64url_decode(token.split(".")[0]))


def test_a_lease_is_a_compact_jws_with_the_contracts_header(ring):
    token = ring.sign({"sub": "d1", "iat": T, "exp": T + 60}, "JWT")

    assert token.count(".") == 2
    assert header_of(token) == {"alg": "EdDSA", "kid": "k-test", "typ": "JWT"}


def test_a_lease_verifies_offline_with_the_published_jwks(ring):
    token = ring.sign({"sub": "d1", "iat": T, "exp": T + 60}, "JWT")

    claims = jwt.decode(token, KeySet.import_key_set(ring.jwks()), algorithms=["EdDSA"]).claims

    assert claims == {"sub": "d1", "iat": T, "exp": T + 60}


def test_the_jwks_publishes_public_okp_keys_only():
    ring = parse_secret(
        json.dumps({"active_kid": "b", "keys": [json.loads(new_secret_value(kid))["keys"][0] for kid in ("b", "a")]})
    )

    keys = ring.jwks()["keys"]

    assert [k["kid"] for k in keys] == ["a", "b"]
    for key in keys:
        assert set(key) == {"kty", "crv", "alg", "use", "kid", "x"}
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")


def test_a_token_signed_with_a_retired_key_is_refused(ring):
    other = parse_secret(new_secret_value("k-old"))
    token = other.sign({"sub": "d1"}, "device+jwt")

    with pytest.raises(InvalidToken):
        ring.verify(token, "device+jwt")


def test_a_token_past_its_exp_on_the_service_clock_is_refused(ring):
    token = ring.sign({"sub": "d1", "exp": T}, "device+jwt")

    with pytest.raises(InvalidToken):
        ring.verify(token, "device+jwt")
    assert ring.verify(ring.sign({"sub": "d1", "exp": T + 1}, "device+jwt"), "device+jwt")["exp"] == T + 1


def test_a_token_not_yet_valid_on_the_service_clock_is_refused(ring):
    token = ring.sign({"sub": "d1", "nbf": T + 60}, "device+jwt")

    with pytest.raises(InvalidToken):
        ring.verify(token, "device+jwt")


def test_an_essential_claim_that_is_missing_refuses_the_token(ring):
    token = ring.sign({"sub": "d1"}, "device+jwt")

    with pytest.raises(InvalidToken):
        ring.verify(token, "device+jwt", essential=["sub", "tid"])
    assert ring.verify(token, "device+jwt", essential=["sub"]) == {"sub": "d1"}


def test_a_token_of_another_kind_is_refused(ring):
    lease = ring.sign({"sub": "d1"}, "JWT")

    with pytest.raises(InvalidToken):
        ring.verify(lease, "device+jwt")


def test_a_token_without_a_kid_is_refused_even_by_a_one_key_ring(ring):
    token = ring.sign({"sub": "d1"}, "device+jwt")
    _, claims, signature = token.split(".")
    unnamed = b64url(json.dumps({"alg": "EdDSA", "typ": "device+jwt"}).encode())

    with pytest.raises(InvalidToken):
        ring.verify(f"{unnamed}.{claims}.{signature}", "device+jwt")


@pytest.mark.parametrize("alg", ["none", "HS256", "Ed25519"])
def test_a_token_naming_another_algorithm_is_refused(ring, alg):
    token = ring.sign({"sub": "d1"}, "device+jwt")
    _, claims, signature = token.split(".")
    header = b64url(json.dumps({"alg": alg, "kid": "k-test", "typ": "device+jwt"}).encode())

    with pytest.raises(InvalidToken):
        ring.verify(f"{header}.{claims}.{signature}", "device+jwt")


def test_the_secret_names_its_active_key():
    with pytest.raises(ValueError):
        parse_secret(json.dumps({"active_kid": "nope", "keys": json.loads(new_secret_value("k1"))["keys"]}))
