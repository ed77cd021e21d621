"""Activation and every other request path: the DynamoDB calls of each endpoint and each
scheduled function, run once each in a representative order against a small world.

The mix must reach every route the app declares (``app.routes``): a route it does not exercise is
reported, and the regression test fails, so a new endpoint cannot slip in unmeasured.
"""

from __future__ import annotations

from datetime import timedelta

from bench.calls import CallLog, compact
from bench.capture import stdout_captured
from bench.world import World, operator_headers
from chalicelib.api.http import OPERATIONS

# The operator's listings read the tenants table page by page: one small item per customer,
# never devices. Any other Scan in a request path is a regression.
OPERATOR_LISTINGS = frozenset({"GET /v1/tenants", "GET /v1/usage (operator)", "GET /v1/usage.csv (operator)"})


class Mix:
    """Runs requests and keeps, per route (``METHOD /path/{param}`` plus a variant), the calls of
    its first successful run."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.routes: dict[str, dict] = {}
        self.schedules: dict[str, dict] = {}
        self.exercised: set[tuple[str, str]] = set()

    def call(self, method: str, route: str, path: str | None = None, body=None, headers=None, variant: str = ""):
        with CallLog() as log:
            reply = self.world.ok(method, path or route, body, headers)
        key = f"{method} {route}" + (f" ({variant})" if variant else "")
        self.exercised.add((route, method))
        self.routes.setdefault(key, _summary(log))
        return reply

    def schedule(self, name: str, at) -> dict:
        with CallLog() as log:
            payload = self.world.sweep(name, at)
        self.schedules.setdefault(name, {**_summary(log), "report": payload})
        return payload


def _summary(log: CallLog) -> dict:
    return {
        "calls": log.labels(),
        "reads": len(log.reads()),
        "writes": len(log.writes()),
        "items_read": log.items_read(),
        "scans": [c.label for c in log.dynamodb() if c.operation == "Scan"],
        "transact_items": sum(
            len(c.params.get("TransactItems", [])) for c in log.dynamodb() if c.operation == "TransactWriteItems"
        ),
        "other_aws_calls": log.other_services(),
    }


def exercise(world: World) -> Mix:
    """Every endpoint once, in the order a tenant's life takes them, then every schedule."""
    mix, w, op = Mix(world), world, operator_headers()
    start = w.now
    # A container reads the signing keys from Secrets Manager once, at its first signature: warm
    # them, as in a running Lambda, so that no request below is charged for it.
    w.ok("GET", "/v1/.well-known/jwks.json")
    a = mix.call("POST", "/v1/tenants", body={"name": "Acme", "owner_email": "it@acme.example"}, headers=op).body
    b = w.ok("POST", "/v1/tenants", {"name": "Trialco", "owner_email": "it@trialco.example"}, op).body
    ta, tb = a["tenant_id"], b["tenant_id"]
    admin = {"Authorization": f"Bearer {a['api_key']}"}
    activation_key = {"X-Activation-Key": a["activation_key"]}
    mix.call(
        "POST",
        "/v1/tenants/{tenant_id}/contracts",
        f"/v1/tenants/{ta}/contracts",
        {"contract_id": "c-1", "capacity": 100, "starts_at": "2026-01-01T00:00:00Z"},
        op,
    )
    mix.call("POST", "/v1/tenants/{tenant_id}/trial", f"/v1/tenants/{tb}/trial", {}, op)
    mix.call("GET", "/v1/tenants", headers=op)
    mix.call("GET", "/v1/tenants/{tenant_id}", f"/v1/tenants/{ta}", headers=op)
    mix.call(
        "POST", "/v1/tenants/{tenant_id}/owner", f"/v1/tenants/{ta}/owner", {"owner_email": "new@acme.example"}, op
    )
    sku = "VLM-MAX-SPLA"
    lic_type = mix.call(
        "POST", "/v1/license-types", body={"name": "Max", "sku": sku, "capacity": 50}, headers=admin
    ).body["lic_type_id"]
    spare = w.ok("POST", "/v1/license-types", {"name": "Spare", "sku": "VLM-200-SPLA", "capacity": 10}, admin).body[
        "lic_type_id"
    ]
    mix.call("GET", "/v1/license-types", headers=admin)
    mix.call("GET", "/v1/license-types/{lic_type_id}", f"/v1/license-types/{lic_type}", headers=admin)
    mix.call("PATCH", "/v1/license-types/{lic_type_id}", f"/v1/license-types/{lic_type}", {"name": "Max 2"}, admin)
    mix.call("GET", "/v1/license", headers=admin)

    lm = w.next_loadmaster(sku)
    mix.call("POST", "/v1/activation/license-types", body=lm, headers=activation_key)
    request = {**lm, "lic_type_id": lic_type}
    keyed = {**activation_key, "Idempotency-Key": "bench-1"}
    granted = mix.call("POST", "/v1/activations", body=request, headers=keyed).body
    mix.call("POST", "/v1/activations", body=request, headers=keyed, variant="retry, same Idempotency-Key")
    d1 = {"Authorization": f"Device {granted['device_token']}"}
    device_id = granted["device_id"]
    mix.call("POST", "/v1/devices/{device_id}/confirm", f"/v1/devices/{device_id}/confirm", headers=d1)
    check_in = {k: lm[k] for k in ("mac", "ip", "port", "version")}
    mix.call("POST", "/v1/devices/{device_id}/check-ins", f"/v1/devices/{device_id}/check-ins", check_in, d1)
    mix.call("GET", "/v1/devices", headers=admin)
    mix.call("GET", "/v1/devices/{device_id}", f"/v1/devices/{device_id}", headers=admin)
    successor = w.next_loadmaster(sku)
    mix.call(
        "POST",
        "/v1/devices/{device_id}/replace",
        f"/v1/devices/{device_id}/replace",
        {k: successor[k] for k in ("mac", "ip", "port")},
        admin,
    )

    lm2 = w.next_loadmaster(sku)
    second = w.ok("POST", "/v1/activations", {**lm2, "lic_type_id": lic_type}, activation_key).body
    mix.call(
        "POST",
        "/v1/devices/{device_id}/deactivate",
        f"/v1/devices/{second['device_id']}/deactivate",
        headers={"Authorization": f"Device {second['device_token']}"},
    )
    mix.call("DELETE", "/v1/devices/{device_id}", f"/v1/devices/{second['device_id']}", headers=admin)

    lm3 = w.next_loadmaster(sku)
    third = w.ok("POST", "/v1/activations", {**lm3, "lic_type_id": lic_type}, activation_key).body
    mix.schedule("block_unconfirmed", start + timedelta(hours=25))
    mix.call("POST", "/v1/devices/{device_id}/unblock", f"/v1/devices/{third['device_id']}/unblock", headers=admin)

    mix.call("GET", "/v1/events", headers=admin)
    mix.call("GET", "/v1/settings", headers=admin)
    mix.call("PATCH", "/v1/settings", body={"lease_s": 1209600}, headers=admin)
    mix.schedule("meter_usage", start + timedelta(hours=1))
    month = start.strftime("%Y-%m")
    mix.call("GET", "/v1/usage", f"/v1/usage?month={month}", headers=admin, variant="tenant")
    mix.call("GET", "/v1/usage", f"/v1/usage?month={month}", headers=op, variant="operator")
    mix.call("GET", "/v1/usage.csv", f"/v1/usage.csv?month={month}", headers=admin, variant="tenant")
    mix.call("GET", "/v1/usage.csv", f"/v1/usage.csv?month={month}", headers=op, variant="operator")
    mix.call("DELETE", "/v1/license-types/{lic_type_id}", f"/v1/license-types/{spare}", headers=admin)
    mix.call("POST", "/v1/keys/rotate", body={"kind": "activation"}, headers=admin)
    mix.call("POST", "/v1/tenants/{tenant_id}/terminate", f"/v1/tenants/{tb}/terminate", headers=op)
    mix.call("GET", "/v1/health")
    mix.call("GET", "/v1/.well-known/jwks.json")
    mix.call("GET", "/openapi.json")
    accounts(mix)
    # What needs no credential and no parameter (the console's page and assets).
    declared = {(o.path, o.method): o.auth for o in OPERATIONS}
    for path, methods in sorted(w.app.routes.items()):
        if (
            "GET" in methods
            and "{" not in path
            and (path, "GET") not in mix.exercised
            and declared.get((path, "GET")) is None
        ):
            mix.call("GET", path)

    mix.schedule("deactivate_silent", start + timedelta(days=3))
    mix.schedule("expire_trials", start + timedelta(days=31))
    for name in schedule_names(w.app):
        if name not in mix.schedules:
            mix.schedule(name, start + timedelta(days=32))
    return mix


def schedule_names(app) -> list[str]:
    return [source.name for source in getattr(app, "event_sources", []) if hasattr(source, "schedule_expression")]


def accounts(mix: Mix) -> None:
    """People's accounts, as the console drives them: register, confirm, sign in, the account's
    tenant and trial, a member invited, promoted and handed the ownership, an invitation withdrawn,
    a password reset, a change of email, signing out. The codes are those the world's Cognito
    "mailed"."""
    w, mail = mix.world, mix.world.mailbox
    owner_email, member_email = "owner@people.example", "member@people.example"
    mix.call("GET", "/v1/accounts/password-policy")
    mix.call("POST", "/v1/accounts", body={"email": owner_email, "password": PASSWORD, "name": "Owner"})
    code = mail.last_code(owner_email, "registration")
    mix.call("POST", "/v1/accounts/confirm", body={"email": owner_email, "code": code})
    session = mix.call("POST", "/v1/sessions", body={"email": owner_email, "password": PASSWORD}).body
    mix.call("POST", "/v1/sessions/refresh", body={"refresh_token": session["refresh_token"]})
    owner = {"Authorization": f"Bearer {session['access_token']}"}
    owner_id = mix.call("GET", "/v1/account", headers=owner).body["account_id"]
    mix.call("PATCH", "/v1/account", body={"name": "The Owner"}, headers=owner)
    tenant_id = mix.call("POST", "/v1/account/tenant", body={"name": "People"}, headers=owner).body["tenant_id"]
    as_owner = {**owner, "X-Tenant-Id": tenant_id}
    mix.call("POST", "/v1/trial", headers=as_owner)

    w.ok("POST", "/v1/accounts", {"email": member_email, "password": PASSWORD, "name": "Member"})
    w.ok("POST", "/v1/accounts/confirm", {"email": member_email, "code": mail.last_code(member_email, "registration")})
    signed_in = w.ok("POST", "/v1/sessions", {"email": member_email, "password": PASSWORD}).body
    member = {"Authorization": f"Bearer {signed_in['access_token']}", "X-Tenant-Id": tenant_id}
    member_id = mix.call("POST", "/v1/members", body={"email": member_email, "role": "viewer"}, headers=as_owner).body[
        "account_id"
    ]
    mix.call("GET", "/v1/members", headers=as_owner)
    mix.call("PATCH", "/v1/members/{account_id}", f"/v1/members/{member_id}", {"role": "admin"}, as_owner)
    w.ok("POST", "/v1/members", {"email": "later@people.example", "role": "viewer"}, as_owner)
    mix.call("DELETE", "/v1/invitations", "/v1/invitations?email=later@people.example", headers=as_owner)
    mix.call("POST", "/v1/ownership", body={"account_id": member_id}, headers=as_owner)
    mix.call("DELETE", "/v1/members/{account_id}", f"/v1/members/{owner_id}", headers=member)

    mix.call("POST", "/v1/accounts/password-reset", body={"email": owner_email})
    mix.call(
        "POST",
        "/v1/accounts/password-reset/confirm",
        body={"email": owner_email, "code": mail.last_code(owner_email, "password reset"), "password": PASSWORD},
    )
    mix.call("PATCH", "/v1/account", body={"email": "moved@people.example"}, headers=owner, variant="email")
    mix.call(
        "POST",
        "/v1/account/email/confirm",
        body={"code": mail.last_code("moved@people.example", "change of email")},
        headers=owner,
    )
    mix.call("DELETE", "/v1/sessions", headers=owner)


# Meets the accounts' password policy (chalicelib.domain.passwords).
PASSWORD = "Bench-horse-42"


def unexercised(mix: Mix) -> list[str]:
    return sorted(
        f"{m} {p}" for p, methods in mix.world.app.routes.items() for m in methods if (p, m) not in mix.exercised
    )


def activation(mix: Mix) -> dict:
    first = mix.routes["POST /v1/activations"]
    return {
        "calls": first["calls"],
        "reads": first["reads"],
        "transactions": sum(1 for c in first["calls"] if c.startswith("TransactWriteItems")),
        "transact_items": first["transact_items"],
        "writes": first["writes"],
        "other_aws_calls": first["other_aws_calls"],
    }


def run() -> dict:
    with World() as world, stdout_captured():
        mix = exercise(world)
    scans = {k: v["scans"] for k, v in mix.routes.items() if v["scans"]}
    return {
        "activation": activation(mix),
        "routes": mix.routes,
        "schedules": {
            k: {key: v[key] for key in ("calls", "reads", "writes", "items_read", "scans", "transact_items")}
            for k, v in mix.schedules.items()
        },
        "request_paths_with_scan": scans,
        "unexpected_scans": {k: v for k, v in scans.items() if k not in OPERATOR_LISTINGS},
        "devices_table_scans": sorted(
            k
            for k, v in {**mix.routes, **mix.schedules}.items()
            if any(s.startswith("Scan(devices") for s in v["scans"])
        ),
        "unexercised_routes": unexercised(mix),
    }


def report(r: dict) -> list[str]:
    a = r["activation"]
    lines = [
        f"activation: {' + '.join(a['calls'])} -> {a['transactions']} TransactWriteItems, {a['reads']} reads "
        f"(target 1 and <= 2: {'met' if a['transactions'] == 1 and a['reads'] <= 2 else 'missed'})",
        f"requests: {len(r['routes'])} request kinds over every route; Scan only in "
        f"{sorted(r['request_paths_with_scan']) or 'none'}; unexpected Scans: {r['unexpected_scans'] or 'none'}; "
        f"Scans of devices anywhere: {r['devices_table_scans'] or 'none'}; "
        f"routes not exercised: {r['unexercised_routes'] or 'none'}",
    ]
    for name, s in r["schedules"].items():
        lines.append(f"schedule {name}: {compact(s['calls'])} (items read {s['items_read']})")
    return lines


def table(r: dict) -> list[str]:
    """Markdown rows: every request kind and its calls."""
    rows = [
        "| request | DynamoDB calls | reads | writes | items read by Query/Scan |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, v in sorted(r["routes"].items(), key=lambda kv: kv[0].split(" ", 1)[1]):
        rows.append(f"| `{key}` | {compact(v['calls'])} | {v['reads']} | {v['writes']} | {v['items_read']} |")
    for key, v in r["schedules"].items():
        rows.append(f"| schedule `{key}` | {compact(v['calls'])} | {v['reads']} | {v['writes']} | {v['items_read']} |")
    return rows
