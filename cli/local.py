"""``licensing sweep``: run a scheduled function once, at a chosen time, on the local stack
(``make run``). The work is ``local.sweep``'s; this needs the project's source checkout."""

from __future__ import annotations

import click

from cli.params import TIMESTAMP

SCHEDULED_HELP = (
    "expire_trials, block_unconfirmed, deactivate_silent, meter_usage, purge_unconfirmed, or all (each in that order)"
)


@click.command()
@click.argument("name", metavar="NAME")
@click.option(
    "--at",
    "at",
    type=TIMESTAMP,
    metavar="TIME",
    help="The event's time: RFC 3339 (2026-12-01T00:00:00Z) or a date (default: now).",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    envvar="PORT",
    default=8000,
    show_default=True,
    show_envvar=True,
    help="The port of the local stack to act on.",
)
def sweep(name: str, at: str | None, port: int) -> None:
    """Run a scheduled function once on the local stack, as of --at.

    NAME is one of expire_trials, block_unconfirmed, deactivate_silent, meter_usage, purge_unconfirmed,
    or all.
    Moves a LoadMaster's world forward without waiting for the clock; prints each function's
    report (due, acted, skipped by a lost race) as JSON.

        licensing sweep deactivate_silent --at 2026-12-01T00:00:00Z
    """
    try:
        from local import sweep as local_sweep
        from local.stack import ROOT, SCHEDULED
    except ImportError:
        ROOT = None
    if ROOT is None or not (ROOT / "app.py").is_file():  # a wheel installed without the checkout
        raise click.ClickException(
            "sweep drives the local stack of the project's checkout: install the project "
            "editable there (pip install --no-deps -e .)"
        )
    if name not in (*SCHEDULED, "all"):
        raise click.BadParameter(f"{name!r} is not one of {SCHEDULED_HELP}", param_hint="NAME")
    argv = [name, "--port", str(port)]
    if at:
        argv += ["--at", at]
    code = local_sweep.main(argv)
    if code:
        raise click.exceptions.Exit(code)


COMMANDS = (sweep,)
