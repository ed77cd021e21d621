"""The demo account and tenant of ``make run``: a person registers, confirms with the code
Cognito would have mailed (``local.accounts``), signs in and creates the tenant it owns, which the
operator puts on trial; all through the app's own API, like any real one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import ROOT, STAGE, project_on_path

DEMO_LOADMASTER = {
    "mac": "00:50:56:aa:bb:cc",
    "ip": "10.0.0.5",
    "port": 443,
    "sku": "VLM-MAX-SPLA",
    "image": "LoadMaster-VLM-7.2.47-SPLA.ova",
    "version": "7.2.47",
}


class DemoError(RuntimeError):
    """The operator API refused to make the demo tenant."""


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    api_key: str
    activation_key: str
    lic_type_id: str
    sku: str
    capacity: int
    trial_expires_at: str | None


@dataclass(frozen=True)
class DemoAccount:
    """The person who owns the demo tenant: signs in to the console and ``licensing login``."""

    account_email: str
    account_password: str
    account_id: str


def seed_demo(
    operator_key: str, mailbox: Path | None = None, email: str | None = None, password: str | None = None
) -> tuple[DemoTenant, DemoAccount | None]:
    """A tenant on trial, made through the API like any real one: owned by a demo account when
    the app has accounts (and ``mailbox`` receives their codes), else by the operator alone."""
    project_on_path()
    from chalice.test import Client

    from app import app
    from local.accounts import DEMO_EMAIL, demo_password, read_mail

    operator = {"Authorization": f"Bearer {operator_key}", "Content-Type": "application/json"}
    with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:

        def call(method: str, path: str, headers: dict[str, str], body: Any = None, expect: int = 200) -> Any:
            response = getattr(client.http, method)(
                path,
                headers={"Content-Type": "application/json", **headers},
                body=json.dumps(body) if body is not None else None,
            )
            if response.status_code != expect:
                raise DemoError(
                    f"seeding the demo tenant: {method.upper()} {path} answered "
                    f"{response.status_code} {response.body!r}"
                )
            return json.loads(response.body)

        account = None
        if mailbox is not None and "/v1/account/tenant" in app.routes:
            email, password = email or DEMO_EMAIL, password or demo_password()
            call("post", "/v1/accounts", {}, {"email": email, "password": password, "name": "Demo Owner"}, expect=202)
            mails = [m for m in read_mail(mailbox, to=email) if m["why"] == "registration"]
            if not mails:
                raise DemoError(f"seeding the demo account: no registration code was mailed to {email}")
            call("post", "/v1/accounts/confirm", {}, {"email": email, "code": mails[-1]["code"]})
            session = call("post", "/v1/sessions", {}, {"email": email, "password": password})
            bearer = {"Authorization": f"Bearer {session['access_token']}"}
            created = call("post", "/v1/account/tenant", bearer, {"name": "Demo Tenant"}, expect=201)
            account = DemoAccount(email, password, call("get", "/v1/account", bearer)["account_id"])
        else:
            created = call(
                "post", "/v1/tenants", operator, {"name": "Demo Tenant", "owner_email": "demo@example.com"}, expect=201
            )
        tenant_id = created["tenant_id"]
        trial = call("post", f"/v1/tenants/{tenant_id}/trial", operator, {}, expect=201)
        admin = {"Authorization": f"Bearer {created['api_key']}"}
        types = call("get", "/v1/license-types", admin)["license_types"]
    if not types:
        raise DemoError("seeding the demo tenant: the trial created no license type")
    first = types[0]
    return DemoTenant(
        tenant_id=tenant_id,
        api_key=created["api_key"],
        activation_key=created["activation_key"],
        lic_type_id=first["lic_type_id"],
        sku=first["sku"],
        capacity=first["capacity"],
        trial_expires_at=trial.get("trial_expires_at"),
    ), account
