"""Paging cursors are signed with a key of their own (the secret ``CURSOR_KEY_SECRET_ID``), so
rotating the lease-signing key leaves every cursor a client holds valid."""

import base64
import json

import boto3

from chalicelib.security import signing
from chalicelib.startup import configure
from tests.conftest import SETTINGS, activate

SECRET_ID = SETTINGS.signing_key_secret_id


def _secret() -> dict:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return json.loads(client.get_secret_value(SecretId=SECRET_ID)["SecretString"])


def _cursor_secret() -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return client.get_secret_value(SecretId=SETTINGS.cursor_key_secret_id)["SecretString"]


def _rotate_the_lease_key(kid: str) -> None:
    """A whole rotation (README, "Rotating the signing key"): a new key in the secret's ``keys``,
    made active, and the old one retired; then every container reloads the secret (a cold start
    here)."""
    document = _secret()
    document["keys"] = json.loads(signing.new_secret_value(kid))["keys"]
    document["active_kid"] = kid
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=SECRET_ID, SecretString=json.dumps(document)
    )
    configure(SETTINGS)


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def _pool_with_devices(api, new_tenant, n: int):
    keys = new_tenant(contract={"contract_id": "C-P", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"})
    lic_type_id = api.post(
        "/v1/license-types", {"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": 10}, headers=keys.admin
    ).body["lic_type_id"]
    for i in range(n):
        assert activate(api, keys, lic_type_id, mac=f"00:50:56:00:60:{i:02x}", ip=f"10.60.0.{i}").status == 201
    return keys, lic_type_id


def test_a_cursor_still_pages_after_the_lease_key_is_rotated_and_the_old_one_retired(api, new_tenant):
    # Given the first page of a tenant's table of licenses, and its cursor
    keys, lic_type_id = _pool_with_devices(api, new_tenant, 3)
    first = api.get("/v1/devices?limit=2", headers=keys.admin).body
    assert len(first["devices"]) == 2 and first["next"]
    cursor_secret = _cursor_secret()

    # When the operator rotates the lease-signing key
    _rotate_the_lease_key("k-rotated")

    # Then the cursor still pages, on to the last device, while leases are signed with the new key
    second = api.get(f"/v1/devices?limit=2&next={first['next']}", headers=keys.admin)
    assert second.status == 200, second.body
    assert [d["device_id"] for d in second.body["devices"]] != [d["device_id"] for d in first["devices"]]
    assert len(first["devices"]) + len(second.body["devices"]) == 3 and second.body["next"] is None
    granted = activate(api, keys, lic_type_id, mac="00:50:56:00:60:99", ip="10.60.0.99").body
    assert _kid(granted["license"]) == "k-rotated"
    assert _cursor_secret() == cursor_secret


def test_a_cursor_is_not_signed_with_the_lease_key(api, new_tenant):
    # Given a cursor
    keys, _ = _pool_with_devices(api, new_tenant, 2)
    cursor = api.get("/v1/devices?limit=1", headers=keys.admin).body["next"]

    # When the cursor key is replaced (and the lease keys are not)
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=SETTINGS.cursor_key_secret_id, SecretString="another cursor key of at least 32 characters"
    )
    configure(SETTINGS)

    # Then that cursor is refused, though the lease keys are the same: it was never theirs
    reply = api.get(f"/v1/devices?limit=1&next={cursor}", headers=keys.admin)
    assert (reply.status, reply.code) == (400, "VALIDATION_ERROR")
