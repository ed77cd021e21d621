"""The ``licensing`` command: global options, the shared context, and error reporting.

    licensing tenants create "Acme" --owner admin@acme.example     # operator
    licensing devices list --status ACTIVE --all                   # tenant administrator
    licensing simulate --count 20 --rounds 3 --silent 0.2          # a fleet against the local stack

Keys come from the environment (``LICENSING_OPERATOR_KEY``, ``LICENSING_API_KEY``,
``LICENSING_ACTIVATION_KEY``); the flags exist but put the key into the shell history. A person
signs in instead with ``licensing login`` (email and password; the tokens are kept in the user's
config directory, ``cli.session``): tenant commands then use the account's token when no API key
is set, in the tenant ``--tenant``/``LICENSING_TENANT_ID`` names.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from cli import output
from cli.context import KEY_HELP, Env
from cli.http import DEFAULT_URL, ApiError, RetryPolicy, Unreachable

SECTIONS = (
    ("Operator commands (LICENSING_OPERATOR_KEY)", ("tenants", "trial", "contract", "terminate", "owner")),
    ("Accounts", ("login", "logout", "account")),
    (
        "Tenant commands (LICENSING_API_KEY, or an account signed in with login)",
        ("license", "types", "devices", "usage", "events", "settings", "keys", "members", "ownership"),
    ),
    ("Local stack and load", ("sweep", "simulate")),
)


class LicensingGroup(click.Group):
    """Lists the commands by role, and turns the service's refusals into one line on stderr
    (the contract's error code and message) and exit status 1."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed: set[str] = set()
        limit = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
        for title, names in SECTIONS:
            rows = []
            for name in names:
                command = self.get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
                    listed.add(name)
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        rest = [
            (n, c.get_short_help_str(limit))
            for n in self.list_commands(ctx)
            if n not in listed and (c := self.get_command(ctx, n)) is not None and not c.hidden
        ]
        if rest:
            with formatter.section("Other commands"):
                formatter.write_dl(rest)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiError as e:
            env = ctx.find_object(Env)
            if env is not None and env.json:
                output.emit_json(e.as_json())
            click.secho(f"Error: {e.code}: {e.message}", err=True, fg="red")
            for name, problem in (e.detail.get("fields") or {}).items():
                click.echo(f"  {name}: {problem}", err=True)
            ctx.exit(1)
        except Unreachable as e:
            click.secho(f"Error: {e}", err=True, fg="red")
            ctx.exit(1)
        finally:
            env = ctx.find_object(Env)
            if env is not None and env._client is not None:
                env._client.close()


@click.group(cls=LicensingGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--url",
    envvar="LICENSING_URL",
    default=DEFAULT_URL,
    show_default=True,
    show_envvar=True,
    help="The service's base URL.",
)
@click.option(
    "--operator-key",
    envvar="LICENSING_OPERATOR_KEY",
    show_envvar=True,
    metavar="KEY",
    help=f"The operator key. {KEY_HELP}",
)
@click.option(
    "--api-key", envvar="LICENSING_API_KEY", show_envvar=True, metavar="KEY", help=f"The tenant's API key. {KEY_HELP}"
)
@click.option(
    "--tenant",
    "tenant_id",
    envvar="LICENSING_TENANT_ID",
    show_envvar=True,
    metavar="TENANT_ID",
    help="With an account's session: the tenant to act on, when the account is in several.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the service's answers as JSON (for scripts).")
@click.option(
    "--retries",
    envvar="LICENSING_RETRIES",
    type=click.IntRange(0, 10),
    default=RetryPolicy.retries,
    show_default=True,
    show_envvar=True,
    help="Times a request answered 429 or 503 is sent again, after the Retry-After the service asks for "
    "(a 503 only where sending twice is harmless).",
)
@click.version_option("0.1.0", prog_name="licensing")
@click.pass_context
def cli(
    ctx: click.Context,
    url: str,
    operator_key: str | None,
    api_key: str | None,
    tenant_id: str | None,
    as_json: bool,
    retries: int,
) -> None:
    """Administer the metered licensing service and exercise it.

    Operators create tenants, start trials, apply contracts and export usage; a tenant's
    administrator (its API key, or an account signed in with `licensing login`) manages its
    license types, LoadMasters, settings, keys and members. Errors print the service's error code
    and message and exit with status 1.
    """
    # Tests (and embedders) pass {"session_factory": ..., "sleep": ...} as the root context's obj.
    given = ctx.obj if isinstance(ctx.obj, dict) else {}
    retry = RetryPolicy(retries=retries, **{k: given[k] for k in ("sleep",) if k in given})
    ctx.obj = Env(
        url=url,
        json=as_json,
        session_factory=given.get("session_factory"),
        retry=retry,
        _operator_key=operator_key or None,
        _api_key=api_key or None,
        tenant_id=tenant_id or None,
    )


def _json_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Env).json = True


def _with_json_flag(command: click.Command) -> None:
    """``--json`` after the command too (``licensing devices list --json``), not only before it."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_json_flag(sub)
    if not isinstance(command, click.Group) or command.invoke_without_command:
        command.params.append(
            click.Option(
                ["--json"],
                is_flag=True,
                expose_value=False,
                callback=_json_flag,
                help="Print JSON (as licensing --json does).",
            )
        )


def _register() -> None:
    from cli import accounts, local, operator, simulate, tenant, usage

    for module in (operator, accounts, tenant, usage, local, simulate):
        for command in module.COMMANDS:
            _with_json_flag(command)
            cli.add_command(command)


_register()


def main() -> None:  # pragma: no cover - python -m cli.main
    cli(prog_name="licensing")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
