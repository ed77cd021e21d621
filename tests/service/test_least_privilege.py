"""Least privilege: the IAM policy of each stage grants exactly what the code calls. The calls
are recorded at the botocore layer while a flow exercises every endpoint and every schedule."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.client import BaseClient

from tests.conftest import T0, activate, operator_headers

ROOT = Path(__file__).resolve().parents[2]
# What Lambda itself needs to write its logs (and the metrics in them, as EMF): never recorded.
LOGS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
# A transaction is authorised item by item, as the item's own action.
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


@pytest.fixture
def recorded(api, new_tenant, sweep, clock, monkeypatch):
    """Run every route and schedule once; the (action, resource) pairs the code called."""
    calls: set[tuple[str, str]] = set()
    original = BaseClient._make_api_call

    def record(client, operation, params):
        service = client.meta.service_model.service_name
        if service == "dynamodb":
            if operation == "TransactWriteItems":
                for item in params["TransactItems"]:
                    (kind, body), = item.items()
                    calls.add((f"dynamodb:{TRANSACT[kind]}", body["TableName"]))
            elif "RequestItems" in params:  # BatchGetItem, BatchWriteItem
                calls.update((f"dynamodb:{operation}", table) for table in params["RequestItems"])
            else:
                table = params.get("TableName", "")
                calls.add((f"dynamodb:{operation}", f"{table}/index/{params['IndexName']}" if "IndexName" in params
                           else table))
        elif service == "secretsmanager":
            calls.add((f"secretsmanager:{operation}", params.get("SecretId") or params.get("Name")))
        elif service == "events":
            calls.update((f"events:{operation}", e["EventBusName"]) for e in params["Entries"])
        return original(client, operation, params)

    keys = new_tenant("Everything", contract={"contract_id": "C", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"})
    from chalicelib.security.signing import key_ring, reset_key_ring

    key_ring()  # the lease-signing secret exists from here on (dev creates it on first use)...
    reset_key_ring()  # ...and a cold container reads it
    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    _every_route_and_schedule(api, keys, new_tenant, sweep, clock)
    return calls


def _every_route_and_schedule(api, keys, new_tenant, sweep, clock):
    from app import app

    op = operator_headers()
    trial = new_tenant("Trial", trial={})
    api.get("/v1/tenants", headers=op)
    api.get(f"/v1/tenants/{keys.tenant_id}", headers=op)
    api.post(f"/v1/tenants/{keys.tenant_id}/owner", {"owner_email": "new@x.example"}, headers=op)
    lic = api.post("/v1/license-types", {"name": "A", "sku": "VLM-MAX-SPLA", "capacity": 2}, headers=keys.admin).body
    api.patch(f"/v1/license-types/{lic['lic_type_id']}", {"capacity": 3}, headers=keys.admin)
    api.get(f"/v1/license-types/{lic['lic_type_id']}", headers=keys.admin)
    extra = api.post("/v1/license-types", {"name": "B", "sku": "VLM-200-SPLA", "capacity": 1}, headers=keys.admin)
    api.delete(f"/v1/license-types/{extra.body['lic_type_id']}", headers=keys.admin)
    api.post("/v1/activation/license-types", {"mac": "00:50:56:00:70:01", "ip": "10.70.0.1", "port": 443,
                                              "sku": "VLM-MAX-SPLA", "image": "x-SPLA.ova", "version": "1"},
             headers=keys.loadmaster)
    devices = [activate(api, keys, lic["lic_type_id"], mac=f"00:50:56:00:70:{n:02x}", ip=f"10.70.0.{n}",
                        headers={"Idempotency-Key": f"k{n}"}).body for n in range(1, 4)]
    activate(api, keys, lic["lic_type_id"], mac="00:50:56:00:70:09", ip="10.70.0.9")  # refused: pool full
    d0, d1, d2 = devices
    for d, path in ((d0, "confirm"), (d0, "check-ins"), (d1, "deactivate")):
        api.post(f"/v1/devices/{d['device_id']}/{path}", {"mac": "00:50:56:00:70:01", "ip": "10.70.0.9",
                                                          "port": 443, "version": "2"},
                 headers={"Authorization": f"Device {d['device_token']}"})
    api.post(f"/v1/devices/{d0['device_id']}/replace", {"mac": "00:50:56:00:70:42", "ip": "10.70.0.42", "port": 443},
             headers=keys.admin)
    api.get("/v1/devices?status=ACTIVE", headers=keys.admin)
    # A page with a cursor: the cursor key is read from the signing-key secret (and added to it).
    cursor = api.get("/v1/devices?limit=1", headers=keys.admin).body["next"]
    api.get(f"/v1/devices?limit=1&next={cursor}", headers=keys.admin)
    api.get(f"/v1/devices/{d0['device_id']}", headers=keys.admin)
    api.get("/v1/events", headers=keys.admin)
    api.patch("/v1/settings", {"lease_s": 7200}, headers=keys.admin)
    api.get("/v1/settings", headers=keys.admin)
    api.post("/v1/keys/rotate", {"kind": "activation"}, headers=keys.admin)
    for name in ("meter_usage", "block_unconfirmed", "deactivate_silent", "expire_trials"):
        sweep(name, T0 + timedelta(days=40))
    api.post(f"/v1/devices/{d2['device_id']}/unblock", headers=keys.admin)
    api.delete(f"/v1/devices/{d1['device_id']}", headers=keys.admin)
    api.get("/v1/usage?month=2026-11", headers=keys.admin)
    api.get("/v1/usage.csv?month=2026-11", headers=op)
    api.get("/v1/license", headers=keys.admin)
    api.post(f"/v1/tenants/{trial.tenant_id}/terminate", headers=op)
    api.get("/v1/health")
    api.get("/v1/.well-known/jwks.json")
    api.get("/openapi.json")
    assert app.routes  # every route above answered through the app


def _environment(stage: str) -> dict[str, str]:
    return json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]["environment_variables"]


def _granted(stage: str) -> set[tuple[str, str]]:
    """The (action, resource) pairs the stage's policy grants, resources without their ARN prefix."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"][stage]
    assert config["autogen_policy"] is False
    policy = json.loads((ROOT / ".chalice" / config["iam_policy_file"]).read_text())
    pairs = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            for resource in resources:
                pairs.add((action, resource.split(":table/")[-1].split(":secret:")[-1].split(":event-bus/")[-1]))
    return pairs


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_policy_grants_exactly_what_the_code_calls(recorded, stage):
    prefix = f"licensing-{stage}-"
    # The recorded calls, under the stage's names (the tests run with the dev stage's).
    secret = f"licensing/{stage}/lease-signing-key"
    needed = {(a, r.replace("licensing-dev-", prefix).replace("licensing/dev/", f"licensing/{stage}/"))
              for a, r in recorded}
    if _environment(stage)["SIGNING_KEY_AUTOCREATE"] == "true":
        needed.add(("secretsmanager:CreateSecret", secret))  # the stage makes its key on first use
    granted = _granted(stage)
    granted_plain = {(a, r.removesuffix("-*")) for a, r in granted if a not in LOGS}

    assert needed - granted_plain == set(), "the code calls what the policy does not grant"
    assert granted_plain - needed == set(), "the policy grants what the code never calls"
    assert {a for a, _ in granted if a.startswith("logs:")} == LOGS
