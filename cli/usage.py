"""Metered usage: a tenant's month (``licensing usage``) and the operator's billing export of
every tenant (``licensing usage export``). Same endpoints, the key decides whose usage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli import output
from cli.context import Env, pass_env
from cli.http import Credential
from cli.params import MONTH, this_month

USAGE_COLUMNS = ("lic_type_id", "name", "sku", "capacity", "instance_hours", "peak_instances", "overage_hours")
EXPORT_COLUMNS = ("tenant_id", "tenant", *USAGE_COLUMNS)

MONTH_OPTION = click.option(
    "--month", type=MONTH, default=None, metavar="YYYY-MM", help="The month (default: the current month, UTC)."
)
CSV_OPTION = click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write the month as CSV to this file ('-' for stdout) instead of printing it.",
)


def _write_csv(env: Env, credential: Credential, month: str, target: Path) -> None:
    text = env.client.text("GET", "/v1/usage.csv", credential=credential, params={"month": month})
    if str(target) == "-":
        click.echo(text, nl=False)
        return
    target.write_text(text, encoding="utf-8", newline="")
    rows = max(len(text.splitlines()) - 1, 0)
    output.note(f"Wrote {rows} rows of {month} to {target}.")


@click.group(invoke_without_command=True)
@MONTH_OPTION
@CSV_OPTION
@click.pass_context
def usage(ctx: click.Context, month: str | None, csv_file: Path | None) -> None:
    """The tenant's metered usage of a month, per license type.

    With a subcommand: `usage export` is the operator's billing export of every tenant.
    """
    if ctx.invoked_subcommand is not None:
        if month or csv_file:
            raise click.UsageError("give --month and --csv after the subcommand: usage export --month 2026-11")
        return
    env = ctx.find_object(Env)
    month = month or this_month()
    if csv_file is not None:
        _write_csv(env, env.tenant, month, csv_file)
        return
    body = env.client.call("GET", "/v1/usage", credential=env.tenant, params={"month": month})

    def human(b: dict[str, Any]) -> None:
        click.echo(f"Usage of {b.get('month', month)}")
        output.table(b.get("license_types") or [], USAGE_COLUMNS, empty="(no license types)")

    env.show(body, human)


@usage.command("export")
@MONTH_OPTION
@CSV_OPTION
@pass_env
def usage_export(env: Env, month: str | None, csv_file: Path | None) -> None:
    """Operator: every tenant's usage of a month, for billing (JSON, a table, or --csv FILE)."""
    month = month or this_month()
    if csv_file is not None:
        _write_csv(env, env.operator, month, csv_file)
        return
    body = env.client.call("GET", "/v1/usage", credential=env.operator, params={"month": month})

    def human(b: dict[str, Any]) -> None:
        rows = [
            {"tenant_id": t.get("tenant_id"), "tenant": t.get("name"), **lt}
            for t in b.get("tenants") or []
            for lt in t.get("license_types") or []
        ]
        click.echo(f"Usage of {b.get('month', month)}, {len(b.get('tenants') or [])} tenants")
        output.table(rows, EXPORT_COLUMNS, empty="(no usage)")

    env.show(body, human)


COMMANDS = (usage,)
