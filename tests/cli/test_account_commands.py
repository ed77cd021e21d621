"""``licensing login``/``logout``/``account``, tenant commands as a signed-in account, and the
owner's ``members`` and ``ownership`` commands, against the app in process (moto's Cognito).

moto's ConfirmSignUp takes any code (AWS checks the mailed one): the accounts are made through
the API by the ``accounts`` fixture; what these tests prove is the CLI's side, the session it keeps
and the credentials it sends."""

from __future__ import annotations

import json
import stat

import pytest

from tests.conftest import PASSWORD


@pytest.fixture
def config_dir(tmp_path):
    return tmp_path / "config" / "licensing"


@pytest.fixture
def as_person(licensing, config_dir):
    """``licensing`` with no key in its environment and the session file under ``config_dir``."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
        return licensing(*args, input=input, env={"LICENSING_CONFIG_DIR": str(config_dir), **(env or {})})

    return run


def _login(as_person, email: str, password: str = PASSWORD):
    return as_person("login", "--email", email, input=f"{password}\n")


def _session_file(config_dir) -> dict:
    return json.loads((config_dir / "session.json").read_text())


def test_login_keeps_the_tokens_for_the_owner_only_and_tenant_commands_use_them(as_person, accounts, config_dir):
    person, tenant = accounts.owning("owner@acme.example")

    result = _login(as_person, person.email)

    assert result.exit_code == 0, result.stderr
    assert PASSWORD not in result.output  # asked without echo
    assert f"as {person.email}" in result.stderr and tenant.tenant_id in result.stdout and "owner" in result.stdout
    path = config_dir / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert PASSWORD not in path.read_text()
    (saved,) = _session_file(config_dir).values()
    assert saved["email"] == person.email and saved["access_token"] and saved["refresh_token"]

    listed = as_person("--json", "members", "list")
    assert listed.exit_code == 0, listed.stderr
    assert [(m["email"], m["role"]) for m in json.loads(listed.stdout)["members"]] == [(person.email, "owner")]
    license_ = as_person("license")
    assert license_.exit_code == 0, license_.stderr


def test_a_wrong_password_is_refused_and_nothing_is_kept(as_person, accounts, config_dir):
    person = accounts.signed_up("pat@acme.example")

    result = _login(as_person, person.email, "not-the-password-1")

    assert result.exit_code == 1 and "Error: UNAUTHORIZED" in result.stderr
    assert not (config_dir / "session.json").exists()


def test_the_tenant_option_picks_one_of_the_accounts_tenants(as_person, accounts):
    person, own = accounts.owning("pat@acme.example", tenant="Own")
    _, other = accounts.owning("lee@other.example", tenant="Other")
    assert _login(as_person, "lee@other.example").exit_code == 0
    assert as_person("members", "invite", person.email, "--role", "admin").exit_code == 0
    assert as_person("logout").exit_code == 0
    assert _login(as_person, person.email).exit_code == 0

    in_own = as_person("--json", "--tenant", own.tenant_id, "members", "list")
    in_other = as_person("--json", "members", "list", env={"LICENSING_TENANT_ID": other.tenant_id})

    assert {(m["email"], m["role"]) for m in json.loads(in_own.stdout)["members"]} == {(person.email, "owner")}
    assert {(m["email"], m["role"]) for m in json.loads(in_other.stdout)["members"]} == {
        ("lee@other.example", "owner"),
        (person.email, "admin"),
    }


def test_an_expired_access_token_is_renewed_with_the_refresh_token(as_person, accounts, config_dir, licensing):
    person, _ = accounts.owning("pat@acme.example")
    assert _login(as_person, person.email).exit_code == 0
    data = _session_file(config_dir)
    (url,) = data
    before = data[url]["access_token"]
    data[url]["expires_at"] = 0  # as if an hour had passed
    (config_dir / "session.json").write_text(json.dumps(data))

    result = as_person("members", "list")

    assert result.exit_code == 0, result.stderr
    assert ("POST", "/v1/sessions/refresh") in licensing.adapter.seen
    after = _session_file(config_dir)[url]
    assert after["expires_at"] > 0 and after["refresh_token"] == data[url]["refresh_token"]
    assert after["access_token"] != before


def test_a_refused_refresh_means_signing_in_again(as_person, accounts, config_dir):
    person, _ = accounts.owning("pat@acme.example")
    assert _login(as_person, person.email).exit_code == 0
    data = _session_file(config_dir)
    (url,) = data
    data[url] |= {"expires_at": 0, "refresh_token": "not-a-refresh-token"}
    (config_dir / "session.json").write_text(json.dumps(data))

    result = as_person("members", "list")

    assert result.exit_code == 2 and "sign in again with licensing login" in result.stderr
    assert _session_file(config_dir) == {}


def test_an_api_key_wins_over_the_session_and_without_either_it_says_what_to_do(as_person, accounts, new_tenant):
    person, _ = accounts.owning("pat@acme.example")
    other = new_tenant("Keyed", trial={})
    assert _login(as_person, person.email).exit_code == 0

    keyed = as_person("--json", "license", env={"LICENSING_API_KEY": other.api_key})
    assert json.loads(keyed.stdout)["state"] == "TRIAL"  # the keyed tenant's, not the account's

    assert as_person("logout").exit_code == 0
    nothing = as_person("members", "list")
    assert nothing.exit_code == 2 and "licensing login" in nothing.stderr and "LICENSING_API_KEY" in nothing.stderr


def test_the_owner_invites_changes_roles_removes_and_transfers_ownership(as_person, accounts):
    owner, _ = accounts.owning("owner@acme.example")
    assert _login(as_person, owner.email).exit_code == 0

    invited = as_person("--json", "members", "invite", "viewer@acme.example", "--role", "viewer")
    assert invited.exit_code == 0, invited.stderr
    assert json.loads(invited.stdout)["status"] == "invited"
    viewer = accounts.signed_up("viewer@acme.example")  # a member from then on, with no further step
    listed = json.loads(as_person("--json", "members", "list").stdout)["members"]
    assert {(m["email"], m["role"], m["account_id"]) for m in listed} >= {
        ("viewer@acme.example", "viewer", viewer.account_id)
    }

    promoted = as_person("--json", "members", "role", "viewer@acme.example", "admin")  # by email
    assert promoted.exit_code == 0 and json.loads(promoted.stdout)["role"] == "admin"

    unconfirmed = as_person("ownership", "transfer", viewer.account_id)  # asks first
    assert unconfirmed.exit_code == 1 and "Aborted" in unconfirmed.stderr
    moved = as_person("--json", "ownership", "transfer", viewer.account_id, "--yes")
    assert moved.exit_code == 0, moved.stderr
    roles = {m["email"]: m["role"] for m in json.loads(as_person("--json", "members", "list").stdout)["members"]}
    assert roles == {"viewer@acme.example": "owner", owner.email: "admin"}

    # The former owner, now admin, may no longer manage members.
    refused = as_person("members", "remove", "viewer@acme.example", "--yes")
    assert refused.exit_code == 1 and "FORBIDDEN" in refused.stderr


def test_the_owner_removes_a_member(as_person, accounts):
    owner, _ = accounts.owning("owner@acme.example")
    member = accounts.signed_up("gone@acme.example")
    assert _login(as_person, owner.email).exit_code == 0
    assert as_person("members", "invite", member.email, "--role", "viewer").exit_code == 0

    removed = as_person("members", "remove", member.account_id, "--yes")

    assert removed.exit_code == 0, removed.stderr
    emails = {m["email"] for m in json.loads(as_person("--json", "members", "list").stdout)["members"]}
    assert emails == {owner.email}
    unknown = as_person("members", "remove", "nobody@acme.example", "--yes")
    assert unknown.exit_code == 2 and "not a member" in unknown.stderr


def test_the_owner_withdraws_an_invitation(as_person, accounts):
    owner, _ = accounts.owning("owner@acme.example")
    assert _login(as_person, owner.email).exit_code == 0
    assert as_person("members", "invite", "later@acme.example", "--role", "admin").exit_code == 0

    withdrawn = as_person("members", "withdraw", "later@acme.example")
    again = as_person("members", "withdraw", "later@acme.example")

    assert withdrawn.exit_code == 0, withdrawn.stderr
    assert "The invitation of later@acme.example is withdrawn." in withdrawn.stderr
    emails = {m["email"] for m in json.loads(as_person("--json", "members", "list").stdout)["members"]}
    assert emails == {owner.email}
    assert again.exit_code == 1 and "NOT_FOUND" in again.stderr


def test_account_shows_the_account_and_logout_everywhere_ends_its_sessions(as_person, accounts, licensing):
    person, tenant = accounts.owning("pat@acme.example")
    assert _login(as_person, person.email).exit_code == 0

    shown = as_person("account")
    assert shown.exit_code == 0 and person.email in shown.stdout and tenant.tenant_id in shown.stdout

    out = as_person("logout", "--everywhere")
    assert out.exit_code == 0 and "Signed out" in out.stderr
    assert ("DELETE", "/v1/sessions") in licensing.adapter.seen
    # The refresh token of the fixture's own sign-in is revoked too.
    again = licensing.adapter.client.http.post(
        "/v1/sessions/refresh",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"refresh_token": person.refresh_token}),
    )
    assert again.status_code in (400, 401), again.body
    assert as_person("account").exit_code == 2


def test_password_stdin_reads_the_first_line_and_needs_the_email(as_person, accounts, config_dir):
    person = accounts.signed_up("pat@acme.example")

    without_email = as_person("login", "--password-stdin", input=f"{PASSWORD}\n")
    empty = as_person("login", "--email", person.email, "--password-stdin", input="\n")
    scripted = as_person("login", "--email", person.email, "--password-stdin", input=f"{PASSWORD}\nignored\n")

    assert without_email.exit_code == 2 and "--password-stdin needs --email" in without_email.stderr
    assert empty.exit_code == 2 and "holds no password" in empty.stderr
    assert scripted.exit_code == 0, scripted.stderr
    assert "Password" not in scripted.stderr  # not asked
    assert (config_dir / "session.json").exists()
