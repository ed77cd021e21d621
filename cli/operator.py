"""Operator commands (``Authorization: Bearer <operator key>``): tenants, trials, contracts,
termination, change of ownership. The billing export is ``licensing usage export``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from cli import output
from cli.context import Env, pass_env
from cli.params import TIMESTAMP

TENANT_COLUMNS = ("tenant_id", "name", "state", "capacity", "in_use", "trial_expires_at", "contract_id", "owner_email")
TENANT_FIELDS = (
    "tenant_id",
    "name",
    "owner_email",
    "state",
    "capacity",
    "in_use",
    "trial_expires_at",
    "contract_id",
    "contract_ends_at",
    "created_at",
)


def tenant_path(tenant_id: str, suffix: str = "") -> str:
    return f"/v1/tenants/{quote(tenant_id, safe='')}{suffix}"


def show_tenant(env: Env, tenant: dict[str, Any]) -> None:
    env.show(tenant, lambda t: output.fields(t, TENANT_FIELDS))


@click.group()
def tenants() -> None:
    """List, read and create tenants."""


@tenants.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=50, show_default=True, help="Tenants per page.")
@click.option("--all", "follow", is_flag=True, help="Follow the next cursor through every page.")
@pass_env
def tenants_list(env: Env, limit: int, follow: bool) -> None:
    """The tenants with their licensing state."""
    found, cursor = env.client.listing(
        "/v1/tenants", "tenants", credential=env.operator, params={"limit": limit}, follow=follow
    )
    if env.json:
        output.emit_json({"tenants": found, "next": cursor})
        return
    output.table(found, TENANT_COLUMNS, empty="(no tenants)")
    if cursor:
        output.note("(more tenants: --all lists every page)")


@tenants.command("show")
@click.argument("tenant_id")
@pass_env
def tenants_show(env: Env, tenant_id: str) -> None:
    """One tenant and its licensing state."""
    show_tenant(env, env.client.call("GET", tenant_path(tenant_id), credential=env.operator))


@tenants.command("create")
@click.argument("name")
@click.option("--owner", "owner_email", required=True, metavar="EMAIL", help="The owner's e-mail address.")
@pass_env
def tenants_create(env: Env, name: str, owner_email: str) -> None:
    """Create a tenant (UNLICENSED until a trial or a contract).

    Prints the tenant's API key and activation key: they are shown this once.
    """
    created = env.client.call(
        "POST", "/v1/tenants", credential=env.operator, json={"name": name, "owner_email": owner_email}
    )
    show_tenant(env, created)
    output.warn(
        "The api_key and activation_key are shown only this once: store them now "
        "(give the tenant's administrator the API key, its LoadMasters the activation key)."
    )


@click.command()
@click.argument("tenant_id")
@click.option("--days", type=click.IntRange(1, 365), help="The trial's length (service default 30).")
@click.option("--instances", type=click.IntRange(1, 1000), help="Instances per SKU (service default 5).")
@click.option(
    "--sku",
    "skus",
    multiple=True,
    metavar="SKU",
    help="A LoadMaster SKU to create a trial license type for; repeatable (service default VLM-MAX-SPLA).",
)
@pass_env
def trial(env: Env, tenant_id: str, days: int | None, instances: int | None, skus: tuple[str, ...]) -> None:
    """Start a tenant's trial (one per tenant)."""
    body: dict[str, Any] = {"days": days, "instances": instances, "skus": list(skus) or None}
    body = {k: v for k, v in body.items() if v is not None}
    show_tenant(env, env.client.call("POST", tenant_path(tenant_id, "/trial"), credential=env.operator, json=body))


@click.command()
@click.argument("tenant_id")
@click.option("--id", "contract_id", required=True, help="The contract's id.")
@click.option("--capacity", type=click.IntRange(1), required=True, help="Instances per month.")
@click.option("--starts", "starts_at", type=TIMESTAMP, required=True, help="Start: 2026-11-01 or an RFC 3339 time.")
@click.option("--ends", "ends_at", type=TIMESTAMP, help="End (none: open-ended).")
@pass_env
def contract(env: Env, tenant_id: str, contract_id: str, capacity: int, starts_at: str, ends_at: str | None) -> None:
    """Apply a Metered Licensing contract: the tenant is LICENSED."""
    body: dict[str, Any] = {"contract_id": contract_id, "capacity": capacity, "starts_at": starts_at}
    if ends_at:
        body["ends_at"] = ends_at
    show_tenant(env, env.client.call("POST", tenant_path(tenant_id, "/contracts"), credential=env.operator, json=body))


@click.command()
@click.argument("tenant_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def terminate(env: Env, tenant_id: str, yes: bool) -> None:
    """Terminate a tenant's contract (deactivates its LoadMasters)."""
    if not yes:
        click.confirm(
            f"Terminate tenant {tenant_id}? Every one of its LoadMasters is deactivated.", abort=True, err=True
        )
    result = env.client.call("POST", tenant_path(tenant_id, "/terminate"), credential=env.operator)
    show_tenant(env, result)


@click.command()
@click.argument("tenant_id")
@click.argument("email")
@pass_env
def owner(env: Env, tenant_id: str, email: str) -> None:
    """Change a tenant's owner (change of ownership)."""
    show_tenant(
        env,
        env.client.call("POST", tenant_path(tenant_id, "/owner"), credential=env.operator, json={"owner_email": email}),
    )


COMMANDS = (tenants, trial, contract, terminate, owner)
