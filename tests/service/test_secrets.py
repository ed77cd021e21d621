"""Invariant 6, secrets: no key or token is stored in clear or logged, and secrets are compared
in constant time."""

import hmac
import json
from datetime import timedelta

import boto3

from chalicelib.security import keys, signing
from chalicelib.store.models import ALL_MODELS
from tests.conftest import OPERATOR_KEY, SETTINGS, T0, activate, first_type_id, operator_headers


def _full_run(api, new_tenant, sweep):
    """Everything that issues or presents a secret: tenant keys, rotations, activations,
    device tokens (first and refreshed), confirms, check-ins, sweeps, refusals."""
    keys_ = new_tenant("Secretive", trial={})
    secrets = [OPERATOR_KEY, keys_.api_key, keys_.activation_key]
    lic_type_id = first_type_id(api, keys_)
    granted = activate(api, keys_, lic_type_id).body
    headers = {"Authorization": f"Device {granted['device_token']}"}
    api.post(f"/v1/devices/{granted['device_id']}/confirm", headers=headers)
    renewed = api.post(
        f"/v1/devices/{granted['device_id']}/check-ins",
        {"mac": "00:50:56:aa:bb:01", "ip": "10.0.0.5", "port": 443, "version": "7.2.48"},
        headers=headers,
    ).body
    rotated_api = api.post("/v1/keys/rotate", {"kind": "api"}, headers=keys_.admin).body["key"]
    rotated_act = api.post(
        "/v1/keys/rotate", {"kind": "activation"}, headers={"Authorization": f"Bearer {rotated_api}"}
    ).body["key"]
    api.get("/v1/license", headers=keys_.admin)  # the old key, refused
    api.post("/v1/activation/license-types", {}, headers={"X-Activation-Key": keys_.activation_key})
    api.get("/v1/tenants", headers={"Authorization": "Bearer lk_op.a-wrong-operator-key-0000"})
    sweep("deactivate_silent", "2027-01-01T00:00:00Z")
    api.get("/v1/tenants", headers=operator_headers())
    return [
        *secrets,
        granted["device_token"],
        renewed["device_token"],
        rotated_api,
        rotated_act,
        "lk_op.a-wrong-operator-key-0000",
    ]


def _secret_parts(secret: str) -> list[str]:
    # A key's random part alone, and a token's signature alone, must not appear either.
    return [secret, secret.split(".")[-1]]


def test_no_secret_is_ever_logged(api, new_tenant, sweep, capsys, log_lines):
    secrets = _full_run(api, new_tenant, sweep)

    captured = capsys.readouterr()
    logged = captured.out + captured.err + log_lines.text
    assert "activation granted" in logged and "sweep finished" in logged
    for secret in secrets:
        for part in _secret_parts(secret):
            assert part not in logged


def test_a_signing_key_secret_that_no_longer_parses_is_not_logged(api, trial_tenant, clock, capsys, log_lines):
    granted = activate(api, trial_tenant, first_type_id(api, trial_tenant)).body
    broken = signing.new_secret_value("k-next")
    seed = json.loads(broken)["keys"][0]["d"]
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=SETTINGS.signing_key_secret_id, SecretString=broken[:-3]
    )  # cut short: not JSON
    clock.set_now(T0 + timedelta(seconds=SETTINGS.signing_key_ttl_s))

    reply = api.post(
        f"/v1/devices/{granted['device_id']}/check-ins",
        {"mac": "00:50:56:aa:bb:01", "ip": "10.0.0.5", "port": 443, "version": "7.2.47"},
        headers={"Authorization": f"Device {granted['device_token']}"},
    )

    captured = capsys.readouterr()
    logged = captured.out + captured.err + log_lines.text
    assert reply.status == 200 and "secret refresh failed" in logged
    assert seed not in logged and seed[:16] not in logged


def test_no_secret_is_stored_in_clear(api, new_tenant, sweep):
    secrets = _full_run(api, new_tenant, sweep)
    client = boto3.client("dynamodb", region_name="us-east-1")

    stored = ""
    for model in ALL_MODELS:
        for page in client.get_paginator("scan").paginate(TableName=model.Meta.table_name):
            stored += str(page["Items"])

    assert "lk_api" not in stored and "lk_act" not in stored
    for secret in secrets:
        for part in _secret_parts(secret):
            assert part not in stored


def test_keys_are_compared_in_constant_time(monkeypatch):
    compared = []
    original = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or original(a, b))
    issued = keys.issue_key(keys.KeyKind.API, "t1")

    assert keys.matches(issued.plaintext, issued.sha256)
    other = "y" if issued.plaintext.endswith("x") else "x"  # a last character it does not have
    assert not keys.matches(issued.plaintext[:-1] + other, issued.sha256)
    assert len(compared) == 2
