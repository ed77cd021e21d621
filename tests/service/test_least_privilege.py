"""Least privilege: each function's IAM role grants exactly what that function calls. The calls
are recorded at the botocore layer (``bench.calls``, the benchmarks' call log), function by
function, while a flow exercises every endpoint and every schedule; the grants are the table in
``infra/permissions.py`` that the roles in the template are generated from."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from bench.calls import Call, CallLog
from infra.permissions import GRANTS, NOT_IN_THE_FLOW
from tests.conftest import T0, activate, first_type_id, operator_headers

# A transaction is authorised item by item, as the item's own action.
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
TABLE_PREFIX, SECRET_PREFIX = "licensing-dev-", "licensing/dev/"


def _key(service: str, resource: str) -> str:
    """A recorded resource name as the grant table names it (see infra/permissions.py)."""
    if service == "dynamodb":
        table, _, index = resource.removeprefix(TABLE_PREFIX).partition("/index/")
        return f"index:{table}/{index}" if index else f"table:{table}"
    if service == "secretsmanager":
        return f"secret:{resource.removeprefix(SECRET_PREFIX)}"
    if service == "cognito-idp":  # the stage's one user pool (infra/template.py gives its ARN)
        return "userpool:accounts"
    return f"bus:{resource}"


def _authorised(call: Call) -> set[tuple[str, str]]:
    """What IAM authorises a call as: (resource key, action) pairs."""
    service, operation, params = call.service, call.operation, call.params
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return {
                (_key(service, body["TableName"]), f"dynamodb:{TRANSACT[kind]}")
                for item in params["TransactItems"]
                for kind, body in item.items()
            }
        if "RequestItems" in params:  # BatchGetItem, BatchWriteItem
            return {(_key(service, table), f"dynamodb:{operation}") for table in params["RequestItems"]}
        table = params.get("TableName", "")
        name = f"{table}/index/{params['IndexName']}" if "IndexName" in params else table
        return {(_key(service, name), f"dynamodb:{operation}")}
    if service == "secretsmanager":
        return {(_key(service, params.get("SecretId") or params.get("Name")), f"secretsmanager:{operation}")}
    if service == "events":
        return {(_key(service, e["EventBusName"]), f"events:{operation}") for e in params["Entries"]}
    # IAM authorises only the signed calls of Cognito (Admin*, ListUsers); SignUp, InitiateAuth,
    # GetUser and the other calls of the app client or of an access token are unsigned: none.
    if service == "cognito-idp" and call.signed:
        return {(_key(service, params.get("UserPoolId", "")), f"cognito-idp:{operation}")}
    return set()


# The flow is the same for every test of this module: run once per process (its fixtures set up
# only then), not once per function checked.
_RECORDED: dict[str, set[tuple[str, str]]] = {}


@pytest.fixture
def recorded(request):
    """Per function, the (resource key, action) pairs it called when every route and schedule ran once."""
    if not _RECORDED:
        names = ("api", "new_tenant", "sweep", "clock", "accounts", "verify_user_attribute")
        _RECORDED.update(_record(*(request.getfixturevalue(name) for name in names)))
    return _RECORDED


def _record(api, new_tenant, sweep, clock, accounts, _verify_user_attribute):
    """Run every route and schedule once; per function, the (resource key, action) pairs it called."""
    schedules: list[tuple[str, int, int]] = []  # the calls log.calls[start:end] ran in the schedule
    log = CallLog()

    def sweep_in_its_function(name, at):
        start = len(log.calls)
        try:
            return sweep(name, at)
        finally:
            schedules.append((name, start, len(log.calls)))

    keys = new_tenant("Everything", contract={"contract_id": "C", "capacity": 10, "starts_at": "2026-11-01T00:00:00Z"})
    from chalicelib.security import cursors
    from chalicelib.security.signing import key_ring, reset_key_ring

    key_ring()  # the secrets exist from here on (dev creates them on first use)...
    cursors.cursor_key()
    reset_key_ring()  # ...and a cold container reads them
    cursors.reset_cursor_key()
    with log:
        _every_route_and_schedule(api, keys, new_tenant, sweep_in_its_function, clock)
        _every_account_route(api, accounts, sweep_in_its_function)
    running = ["api_handler"] * len(log.calls)  # the routes run in the API function, each schedule in its own
    for name, start, end in schedules:
        running[start:end] = [name] * (end - start)
    calls: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for function, call in zip(running, log.calls, strict=True):
        calls[function] |= _authorised(call)
    return calls


def _every_route_and_schedule(api, keys, new_tenant, sweep, clock):
    from app import app

    op = operator_headers()
    trial = new_tenant("Trial", trial={})
    # A trial with a device: its expiry releases the device (expire_trials' writes).
    assert activate(api, trial, first_type_id(api, trial), mac="00:50:56:00:71:01", ip="10.71.0.1").status == 201
    api.get("/v1/tenants", headers=op)
    api.get(f"/v1/tenants/{keys.tenant_id}", headers=op)
    api.post(f"/v1/tenants/{keys.tenant_id}/owner", {"owner_email": "new@x.example"}, headers=op)
    lic = api.post("/v1/license-types", {"name": "A", "sku": "VLM-MAX-SPLA", "capacity": 2}, headers=keys.admin).body
    api.patch(f"/v1/license-types/{lic['lic_type_id']}", {"capacity": 3}, headers=keys.admin)
    api.get(f"/v1/license-types/{lic['lic_type_id']}", headers=keys.admin)
    extra = api.post("/v1/license-types", {"name": "B", "sku": "VLM-200-SPLA", "capacity": 1}, headers=keys.admin)
    api.delete(f"/v1/license-types/{extra.body['lic_type_id']}", headers=keys.admin)
    api.post(
        "/v1/activation/license-types",
        {
            "mac": "00:50:56:00:70:01",
            "ip": "10.70.0.1",
            "port": 443,
            "sku": "VLM-MAX-SPLA",
            "image": "x-SPLA.ova",
            "version": "1",
        },
        headers=keys.loadmaster,
    )
    devices = [
        activate(
            api,
            keys,
            lic["lic_type_id"],
            mac=f"00:50:56:00:70:{n:02x}",
            ip=f"10.70.0.{n}",
            headers={"Idempotency-Key": f"k{n}"},
        ).body
        for n in range(1, 4)
    ]
    activate(api, keys, lic["lic_type_id"], mac="00:50:56:00:70:09", ip="10.70.0.9")  # refused: pool full
    d0, d1, d2 = devices
    for d, path in ((d0, "confirm"), (d0, "check-ins"), (d1, "deactivate")):
        api.post(
            f"/v1/devices/{d['device_id']}/{path}",
            {"mac": "00:50:56:00:70:01", "ip": "10.70.0.9", "port": 443, "version": "2"},
            headers={"Authorization": f"Device {d['device_token']}"},
        )
    api.post(
        f"/v1/devices/{d0['device_id']}/replace",
        {"mac": "00:50:56:00:70:42", "ip": "10.70.0.42", "port": 443},
        headers=keys.admin,
    )
    api.get("/v1/devices?status=ACTIVE", headers=keys.admin)
    # A page with a cursor: the cursor key is read from its secret.
    cursor = api.get("/v1/devices?limit=1", headers=keys.admin).body["next"]
    api.get(f"/v1/devices?limit=1&next={cursor}", headers=keys.admin)
    api.get(f"/v1/devices/{d0['device_id']}", headers=keys.admin)
    api.get("/v1/events", headers=keys.admin)
    api.patch("/v1/settings", {"lease_s": 7200}, headers=keys.admin)
    api.get("/v1/settings", headers=keys.admin)
    api.post("/v1/keys/rotate", {"kind": "activation"}, headers=keys.admin)
    for name in ("expire_trials", "meter_usage", "block_unconfirmed", "deactivate_silent"):
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


def _every_account_route(api, accounts, sweep):
    from datetime import UTC, datetime

    from tests.conftest import PASSWORD

    owner, keys = accounts.owning("owner@lp.example")
    member = accounts.signed_up("member@lp.example")
    as_owner = owner.in_tenant(keys.tenant_id)
    accounts.register("owner@lp.example")  # an email with a confirmed account: nothing changes
    accounts.register("squat@lp.example")
    accounts.register("squat@lp.example")  # an unconfirmed registration is made afresh
    api.post("/v1/sessions/refresh", {"refresh_token": owner.refresh_token})
    api.get("/v1/account", headers=owner.headers)
    api.patch("/v1/account", {"name": "Owner"}, headers=owner.headers)
    api.post("/v1/trial", headers=as_owner)
    api.post("/v1/members", {"email": "member@lp.example", "role": "viewer"}, headers=as_owner)  # exists
    api.post("/v1/members", {"email": "later@lp.example", "role": "admin"}, headers=as_owner)  # not yet
    api.get("/v1/members", headers=as_owner)
    api.delete("/v1/invitations?email=later%40lp.example", headers=as_owner)
    api.get("/v1/accounts/password-policy")
    api.get("/v1/license", headers=member.headers)
    api.patch(f"/v1/members/{member.account_id}", {"role": "admin"}, headers=as_owner)
    api.post("/v1/ownership", {"account_id": member.account_id}, headers=as_owner)
    api.delete(f"/v1/members/{owner.account_id}", headers=member.in_tenant(keys.tenant_id))
    api.post("/v1/accounts/password-reset", {"email": "member@lp.example"})
    api.post(
        "/v1/accounts/password-reset/confirm", {"email": "member@lp.example", "code": "123456", "password": PASSWORD}
    )
    api.patch("/v1/account", {"email": "moved@lp.example"}, headers=member.headers)
    moved = accounts.sign_in("moved@lp.example").body["access_token"]  # moto: see test_accounts
    api.post("/v1/account/email/confirm", {"code": "123456"}, headers={"Authorization": f"Bearer {moved}"})
    api.delete("/v1/sessions", headers={"Authorization": f"Bearer {moved}"})
    sweep("purge_unconfirmed", datetime.now(UTC).replace(year=datetime.now(UTC).year + 1))


@pytest.mark.parametrize("function", sorted(GRANTS))
def test_each_function_is_granted_exactly_what_it_calls(recorded, function):
    granted = {(key, action) for key, actions in GRANTS[function].items() for action in actions}

    assert recorded[function] - granted == set(), f"{function} calls what its role does not grant"
    unexplained = {(k, a) for k, a in granted - recorded[function] if (function, k, a) not in NOT_IN_THE_FLOW}
    assert unexplained == set(), f"{function}'s role grants what it never calls"


def test_every_function_that_calls_anything_has_a_grant(recorded):
    assert set(recorded) <= set(GRANTS)


def test_what_the_flow_does_not_call_is_granted_for_a_reason():
    for (function, key, action), reason in NOT_IN_THE_FLOW.items():
        assert action in GRANTS[function][key] and reason
