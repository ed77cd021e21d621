"""Tenant administrator commands (``Authorization: Bearer <tenant api key>``): the license
state, license types, devices, the debug log, settings and keys. Usage is ``licensing usage``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from cli import output
from cli.context import Env, pass_env
from cli.params import DURATION, human_duration

LICENSE_FIELDS = ("state", "trial_expires_at", "contract_id", "contract_ends_at", "capacity", "in_use")
TYPE_COLUMNS = ("lic_type_id", "name", "sku", "capacity", "in_use", "available", "overage", "overage_policy", "trial")
DEVICE_COLUMNS = ("device_id", "status", "mac", "ip", "port", "sku", "lic_type_id", "last_check_in_at", "reason")
DEVICE_FIELDS = (
    "device_id",
    "status",
    "mac",
    "ip",
    "port",
    "sku",
    "image",
    "version",
    "lic_type_id",
    "activated_at",
    "confirm_by",
    "confirmed_at",
    "last_check_in_at",
    "deactivated_at",
    "reason",
)
EVENT_COLUMNS = ("at", "kind", "device_id", "code", "detail")
SETTINGS = (
    ("confirm_window_s", "confirm-window"),
    ("check_in_interval_s", "check-in-interval"),
    ("silent_after_s", "silent-after"),
    ("lease_s", "lease"),
)
OVERAGE_POLICIES = ("NO_OVERAGE", "ALLOW_1_25X", "ALLOW_1_5X", "ALLOW_2X", "ALWAYS_ALLOW")


def _id(value: str) -> str:
    return quote(value, safe="")


# license ---------------------------------------------------------------------------------------


@click.command("license")
@pass_env
def license_(env: Env) -> None:
    """The tenant's licensing state, capacity and instances in use."""
    state = env.client.call("GET", "/v1/license", credential=env.tenant)
    env.show(state, lambda s: output.fields(s, LICENSE_FIELDS))


# types -----------------------------------------------------------------------------------------


@click.group()
def types() -> None:
    """The license types: pools of instances, one SKU each."""


def _show_type(env: Env, license_type: dict[str, Any]) -> None:
    env.show(license_type, lambda t: output.fields(t, TYPE_COLUMNS))


@types.command("list")
@pass_env
def types_list(env: Env) -> None:
    """Every license type with its capacity and instances in use."""
    body = env.client.call("GET", "/v1/license-types", credential=env.tenant)
    env.show(body, lambda b: output.table(b.get("license_types", []), TYPE_COLUMNS, empty="(no license types)"))


@types.command("create")
@click.option("--name", required=True, help="A name for the pool.")
@click.option("--sku", required=True, help="The LoadMaster SKU it licenses, e.g. VLM-MAX-SPLA.")
@click.option("--capacity", type=click.IntRange(0), required=True, help="Instances in the pool.")
@click.option(
    "--overage",
    "overage_policy",
    type=click.Choice(OVERAGE_POLICIES, case_sensitive=False),
    help="How far past its capacity the pool may grant (service default NO_OVERAGE).",
)
@pass_env
def types_create(env: Env, name: str, sku: str, capacity: int, overage_policy: str | None) -> None:
    """Create a license type (capacities of all types together stay within the contract)."""
    body: dict[str, Any] = {"name": name, "sku": sku, "capacity": capacity}
    if overage_policy:
        body["overage_policy"] = overage_policy.upper()
    _show_type(env, env.client.call("POST", "/v1/license-types", credential=env.tenant, json=body))


@types.command("show")
@click.argument("lic_type_id")
@pass_env
def types_show(env: Env, lic_type_id: str) -> None:
    """One license type."""
    _show_type(env, env.client.call("GET", f"/v1/license-types/{_id(lic_type_id)}", credential=env.tenant))


@types.command("update")
@click.argument("lic_type_id")
@click.option("--name", help="A new name.")
@click.option("--capacity", type=click.IntRange(0), help="A new capacity (never below the instances in use).")
@click.option(
    "--overage",
    "overage_policy",
    type=click.Choice(OVERAGE_POLICIES, case_sensitive=False),
    help="A new overage policy.",
)
@pass_env
def types_update(
    env: Env, lic_type_id: str, name: str | None, capacity: int | None, overage_policy: str | None
) -> None:
    """Rename a license type or change its capacity."""
    body: dict[str, Any] = {
        "name": name,
        "capacity": capacity,
        "overage_policy": overage_policy.upper() if overage_policy else None,
    }
    body = {k: v for k, v in body.items() if v is not None}
    if not body:
        raise click.UsageError("nothing to change: give --name, --capacity or --overage")
    _show_type(env, env.client.call("PATCH", f"/v1/license-types/{_id(lic_type_id)}", credential=env.tenant, json=body))


@types.command("delete")
@click.argument("lic_type_id")
@pass_env
def types_delete(env: Env, lic_type_id: str) -> None:
    """Delete a license type (refused while instances are in use)."""
    body = env.client.call("DELETE", f"/v1/license-types/{_id(lic_type_id)}", credential=env.tenant)
    env.show(body or {"deleted": lic_type_id}, lambda _: output.note(f"Deleted license type {lic_type_id}."))


# devices ---------------------------------------------------------------------------------------


@click.group()
def devices() -> None:
    """The LoadMasters (licenses): list, show, unblock, delete."""


def _show_device(env: Env, device: dict[str, Any]) -> None:
    env.show(device, lambda d: output.fields(d, DEVICE_FIELDS))


@devices.command("list")
@click.option(
    "--status",
    type=click.Choice(("PENDING", "ACTIVE", "BLOCKED", "DEACTIVATED"), case_sensitive=False),
    help="Only devices in this status.",
)
@click.option("--type", "lic_type_id", metavar="LIC_TYPE_ID", help="Only devices of this license type.")
@click.option("--mac", help="Only the device with this MAC address.")
@click.option("--ip", help="Only devices with this IP address.")
@click.option("--limit", type=click.IntRange(1, 100), default=50, show_default=True, help="Devices per page.")
@click.option("--all", "follow", is_flag=True, help="Follow the next cursor through every page.")
@pass_env
def devices_list(
    env: Env, status: str | None, lic_type_id: str | None, mac: str | None, ip: str | None, limit: int, follow: bool
) -> None:
    """The LoadMasters of the tenant, one page (or every page with --all)."""
    params = {
        "status": status.upper() if status else None,
        "lic_type_id": lic_type_id,
        "mac": mac,
        "ip": ip,
        "limit": limit,
    }
    found, cursor = env.client.listing("/v1/devices", "devices", credential=env.tenant, params=params, follow=follow)
    if env.json:
        output.emit_json({"devices": found, "next": cursor})
        return
    output.table(found, DEVICE_COLUMNS, empty="(no devices)")
    if cursor:
        output.note("(more devices: --all lists every page)")


@devices.command("show")
@click.argument("device_id")
@pass_env
def devices_show(env: Env, device_id: str) -> None:
    """One device with its history summary."""
    _show_device(env, env.client.call("GET", f"/v1/devices/{_id(device_id)}", credential=env.tenant))


@devices.command("unblock")
@click.argument("device_id")
@pass_env
def devices_unblock(env: Env, device_id: str) -> None:
    """Unblock a BLOCKED device (it becomes DEACTIVATED; the LoadMaster may activate again)."""
    _show_device(env, env.client.call("POST", f"/v1/devices/{_id(device_id)}/unblock", credential=env.tenant))


@devices.command("replace")
@click.argument("device_id")
@click.option("--mac", required=True, help="The successor LoadMaster's MAC address.")
@click.option("--ip", required=True, help="Its IP address.")
@click.option("--port", type=click.IntRange(1, 65535), default=443, show_default=True, help="Its port.")
@pass_env
def devices_replace(env: Env, device_id: str, mac: str, ip: str, port: int) -> None:
    """Move a license to the LoadMaster that replaces this one (same instance, type and history).

    Prints the successor's device token: give it to the new LoadMaster; the old token stops working."""
    replaced = env.client.call(
        "POST",
        f"/v1/devices/{_id(device_id)}/replace",
        credential=env.tenant,
        json={"mac": mac, "ip": ip, "port": port},
    )
    env.show(replaced, lambda d: output.fields(d, (*DEVICE_FIELDS, "device_token", "lease_expires_at")))


@devices.command("delete")
@click.argument("device_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def devices_delete(env: Env, device_id: str, yes: bool) -> None:
    """Delete a LoadMaster and release its instance (its next check-in is refused)."""
    if not yes:
        click.confirm(
            f"Delete LoadMaster {device_id}? Its instance is released and its next check-in refused.",
            abort=True,
            err=True,
        )
    body = env.client.call("DELETE", f"/v1/devices/{_id(device_id)}", credential=env.tenant)
    env.show(body or {"deleted": device_id}, lambda _: output.note(f"Deleted device {device_id}."))


# events ----------------------------------------------------------------------------------------


@click.command()
@click.option("--device", "device_id", help="Only the events of this device.")
@click.option("--limit", type=click.IntRange(1, 100), default=50, show_default=True, help="Events per page.")
@click.option("--all", "follow", is_flag=True, help="Follow the next cursor through every page.")
@pass_env
def events(env: Env, device_id: str | None, limit: int, follow: bool) -> None:
    """The debug log, newest first: decisions, sweeps, admin changes."""
    found, cursor = env.client.listing(
        "/v1/events", "events", credential=env.tenant, params={"device_id": device_id, "limit": limit}, follow=follow
    )
    if env.json:
        output.emit_json({"events": found, "next": cursor})
        return
    output.table(found, EVENT_COLUMNS, empty="(no events)")
    if cursor:
        output.note("(older events: --all lists every page)")


# settings --------------------------------------------------------------------------------------


@click.group()
def settings() -> None:
    """The tenant's timers: confirm window, check-ins, silence, lease."""


def _show_settings(env: Env, body: dict[str, Any]) -> None:
    def human(b: dict[str, Any]) -> None:
        output.fields(
            {k: human_duration(v) if k.endswith("_s") else v for k, v in b.items()}, [name for name, _ in SETTINGS]
        )

    env.show(body, human)


@settings.command("show")
@pass_env
def settings_show(env: Env) -> None:
    """The current settings."""
    _show_settings(env, env.client.call("GET", "/v1/settings", credential=env.tenant))


@settings.command("set")
@click.option("--confirm-window", type=DURATION, help="Block an activation not confirmed within this (e.g. 24h).")
@click.option("--check-in-interval", type=DURATION, help="How often LoadMasters check in (e.g. 1h).")
@click.option("--silent-after", type=DURATION, help="Deactivate a LoadMaster not heard from for this (e.g. 24h).")
@click.option("--lease", type=DURATION, help="How long a LoadMaster works without a check-in (e.g. 7d).")
@pass_env
def settings_set(
    env: Env, confirm_window: int | None, check_in_interval: int | None, silent_after: int | None, lease: int | None
) -> None:
    """Change settings (durations: seconds, or 30m, 24h, 7d); LoadMasters activated from now on use them."""
    given = {
        "confirm_window_s": confirm_window,
        "check_in_interval_s": check_in_interval,
        "silent_after_s": silent_after,
        "lease_s": lease,
    }
    body = {k: v for k, v in given.items() if v is not None}
    if not body:
        raise click.UsageError(
            "nothing to change: give --confirm-window, --check-in-interval, --silent-after or --lease"
        )
    _show_settings(env, env.client.call("PATCH", "/v1/settings", credential=env.tenant, json=body))


# keys ------------------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Rotate the tenant's keys."""


@keys.command("rotate")
@click.argument("kind", type=click.Choice(("api", "activation")))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def keys_rotate(env: Env, kind: str, yes: bool) -> None:
    """Issue a new API key or activation key; the old one stops working at once.

    The new key is printed this once. After rotating the API key, set LICENSING_API_KEY to it;
    after rotating the activation key, give it to the LoadMasters that are still to activate.
    """
    if not yes:
        click.confirm(f"Rotate the {kind} key? The current one stops working at once.", abort=True, err=True)
    body = env.client.call("POST", "/v1/keys/rotate", credential=env.tenant, json={"kind": kind})
    if env.json:
        output.emit_json(body)
    else:
        click.echo(body.get("key"))
    variable = "LICENSING_API_KEY" if kind == "api" else "LICENSING_ACTIVATION_KEY"
    output.warn(f"The new {kind} key is shown only this once: store it now (and update {variable}).")


COMMANDS = (license_, types, devices, events, settings, keys)
