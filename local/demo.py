"""The demo tenant of ``make run``: on trial, made through the operator API like any real one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local import ROOT, STAGE, project_on_path

DEMO_LOADMASTER = {"mac": "00:50:56:aa:bb:cc", "ip": "10.0.0.5", "port": 443, "sku": "VLM-MAX-SPLA",
                   "image": "LoadMaster-VLM-7.2.47-SPLA.ova", "version": "7.2.47"}


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



def seed_demo(operator_key: str) -> DemoTenant:
    """A tenant on trial, made through the operator API like any real one."""
    project_on_path()
    from chalice.test import Client

    from app import app

    operator = {"Authorization": f"Bearer {operator_key}", "Content-Type": "application/json"}
    with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:

        def call(method: str, path: str, headers: dict[str, str], body: Any = None, expect: int = 200) -> Any:
            response = getattr(client.http, method)(path, headers=headers,
                                                    body=json.dumps(body) if body is not None else None)
            if response.status_code != expect:
                raise DemoError(f"seeding the demo tenant: {method.upper()} {path} answered "
                                 f"{response.status_code} {response.body!r}")
            return json.loads(response.body)

        created = call("post", "/v1/tenants", operator,
                       {"name": "Demo Tenant", "owner_email": "demo@example.com"}, expect=201)
        tenant_id = created["tenant_id"]
        trial = call("post", f"/v1/tenants/{tenant_id}/trial", operator, {}, expect=201)
        admin = {"Authorization": f"Bearer {created['api_key']}"}
        types = call("get", "/v1/license-types", admin)["license_types"]
    if not types:
        raise DemoError("seeding the demo tenant: the trial created no license type")
    first = types[0]
    return DemoTenant(tenant_id=tenant_id, api_key=created["api_key"], activation_key=created["activation_key"],
                      lic_type_id=first["lic_type_id"], sku=first["sku"], capacity=first["capacity"],
                      trial_expires_at=trial.get("trial_expires_at"))
