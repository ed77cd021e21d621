"""People's accounts: ``login``, ``logout``, ``account``, and what a tenant's owner does with its
people, ``members`` and ``ownership`` (the seed's change of ownership).

``login`` asks for the password without echo and keeps the tokens (``cli.session``), never the
password. Member commands name a member by account id or by email.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import click

from cli import output
from cli.context import Env, pass_env
from cli.session import Session

MEMBER_COLUMNS = ("account_id", "email", "role", "status")
ROLES = ("admin", "viewer")


# login, logout, account ------------------------------------------------------------------------


@click.command()
@click.option("--email", help="The account's email (asked for when not given).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input's first line (scripts), instead of asking for it.",
)
@pass_env
def login(env: Env, email: str | None, password_stdin: bool) -> None:
    """Sign in with an account's email and password.

    The password is asked for and not echoed.
    The tokens are kept in the user's config directory (~/.config/licensing/session.json, readable
    by you only) and renewed by themselves; tenant commands then act as the account when no
    LICENSING_API_KEY is set. `licensing logout` forgets them.
    """
    if password_stdin and not email:
        raise click.UsageError("--password-stdin needs --email")
    email = (email or click.prompt("Email", err=True)).strip()
    if password_stdin:
        password = click.get_text_stream("stdin").readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: standard input holds no password")
    else:
        password = click.prompt("Password", hide_input=True, err=True)
    answer = env.client.call("POST", "/v1/sessions", json={"email": email, "password": password})
    session = Session.from_answer(email, answer)
    store = env.sessions
    store.save(env.url, session)
    env._session = session
    account = env.client.call("GET", "/v1/account", credential=env.account)

    def human(a: dict[str, Any]) -> None:
        output.note(f"Signed in to {env.url} as {a.get('email', email)}; session kept in {store.path}.")
        _show_tenants(a, env.tenant_id)

    env.show(account, human)


def _show_tenants(account: dict[str, Any], chosen: str | None) -> None:
    tenants = account.get("tenants") or []
    if not tenants:
        output.note(
            "No tenant yet: create one from the console (or POST /v1/account/tenant), or ask an owner to "
            "invite this email."
        )
        return
    output.table(tenants, ("tenant_id", "name", "role"))
    if len(tenants) > 1 and not chosen:
        output.note("In several tenants: name one with --tenant or LICENSING_TENANT_ID.")


@click.command()
@click.option(
    "--everywhere",
    is_flag=True,
    help="Also sign the account out of every other session (the console's included): its refresh tokens are revoked.",
)
@pass_env
def logout(env: Env, everywhere: bool) -> None:
    """Sign out: forget this URL's session.

    With --everywhere, every session of the account ends too (its refresh tokens are revoked)."""
    store = env.sessions
    if everywhere and store.load(env.url) is not None:
        env.client.call("DELETE", "/v1/sessions", credential=env.account)
    forgotten = store.forget(env.url)
    env.show(
        {"signed_out": forgotten, "everywhere": everywhere},
        lambda _: output.note(f"Signed out of {env.url}." if forgotten else f"Not signed in at {env.url}."),
    )


@click.command()
@pass_env
def account(env: Env) -> None:
    """The signed-in account and its tenants.

    Its email and name, and each tenant with the account's role in it."""
    body = env.client.call("GET", "/v1/account", credential=env.account)

    def human(a: dict[str, Any]) -> None:
        output.fields(
            {k: v for k, v in a.items() if k != "tenants"},
            ("account_id", "email", "name", "email_verified", "pending_email"),
        )
        _show_tenants(a, env.tenant_id)

    env.show(body, human)


# members ---------------------------------------------------------------------------------------


@click.group()
def members() -> None:
    """The tenant's people: list, invite, withdraw, role, remove."""


def _member_id(env: Env, who: str) -> str:
    """An account id, or the id of the member with that email."""
    if "@" not in who:
        return who
    body = env.client.call("GET", "/v1/members", credential=env.tenant)
    found = [m for m in body.get("members") or [] if (m.get("email") or "").lower() == who.lower()]
    if not found or not found[0].get("account_id"):
        raise click.BadParameter(
            f"{who} is not a member of the tenant (invited, but not yet registered?)", param_hint="MEMBER"
        )
    return found[0]["account_id"]


def _show_member(env: Env, member: dict[str, Any]) -> None:
    env.show(member, lambda m: output.fields(m, MEMBER_COLUMNS))


@members.command("list")
@pass_env
def members_list(env: Env) -> None:
    """Members with their roles, and invitations not yet taken up."""
    body = env.client.call("GET", "/v1/members", credential=env.tenant)
    env.show(body, lambda b: output.table(b.get("members") or [], MEMBER_COLUMNS, empty="(no members)"))


@members.command("invite")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin manages the tenant; viewer reads only.")
@pass_env
def members_invite(env: Env, email: str, role: str) -> None:
    """Invite EMAIL as admin or viewer: the account with that email (now, or once it registers and
    confirms) is a member from then on."""
    _show_member(
        env, env.client.call("POST", "/v1/members", credential=env.tenant, json={"email": email, "role": role})
    )


@members.command("withdraw")
@click.argument("email")
@pass_env
def members_withdraw(env: Env, email: str) -> None:
    """Withdraw the invitation of EMAIL: it no longer joins when it registers and confirms."""
    body = env.client.call("DELETE", "/v1/invitations", credential=env.tenant, params={"email": email})
    env.show(body, lambda b: output.note(f"The invitation of {b['deleted']} is withdrawn."))


@members.command("role")
@click.argument("member", metavar="MEMBER")
@click.argument("role", type=click.Choice(ROLES))
@pass_env
def members_role(env: Env, member: str, role: str) -> None:
    """Change MEMBER's role (MEMBER: account id or email)."""
    account_id = _member_id(env, member)
    _show_member(
        env,
        env.client.call(
            "PATCH", f"/v1/members/{quote(account_id, safe='')}", credential=env.tenant, json={"role": role}
        ),
    )


@members.command("remove")
@click.argument("member", metavar="MEMBER")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def members_remove(env: Env, member: str, yes: bool) -> None:
    """Remove MEMBER from the tenant (MEMBER: account id or email)."""
    account_id = _member_id(env, member)
    if not yes:
        click.confirm(f"Remove {member} from the tenant? They lose access at once.", abort=True, err=True)
    body = env.client.call("DELETE", f"/v1/members/{quote(account_id, safe='')}", credential=env.tenant)
    env.show(body or {"deleted": account_id}, lambda _: output.note(f"Removed {member}."))


# ownership -------------------------------------------------------------------------------------


@click.group()
def ownership() -> None:
    """The seed's change of ownership."""


@ownership.command("transfer")
@click.argument("member", metavar="MEMBER")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def ownership_transfer(env: Env, member: str, yes: bool) -> None:
    """Make MEMBER (account id or email) the tenant's owner; you become an admin."""
    account_id = _member_id(env, member)
    if not yes:
        click.confirm(
            f"Transfer the tenant's ownership to {member}? You become an admin and cannot undo it yourself.",
            abort=True,
            err=True,
        )
    _show_member(env, env.client.call("POST", "/v1/ownership", credential=env.tenant, json={"account_id": account_id}))


COMMANDS = (login, logout, account, members, ownership)
