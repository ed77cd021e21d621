"""Help, keys from the environment, parameter parsing, and ``sweep``'s refusals (its work is
``local.sweep``'s, tested with the local stack)."""

import pytest
from click.testing import CliRunner

from cli.main import cli
from cli.params import DURATION, MONTH, TIMESTAMP


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {})


def test_help_lists_the_commands_by_role_and_warns_about_key_flags():
    result = run("--help")
    assert result.exit_code == 0
    text = result.stdout
    assert (
        text.index("Operator commands")
        < text.index("  tenants ")
        < text.index("Accounts")
        < text.index("  login ")
        < text.index("Tenant commands")
        < text.index("  members ")
    )
    for name in (
        "trial",
        "contract",
        "terminate",
        "owner",
        "license",
        "types",
        "devices",
        "usage",
        "events",
        "settings",
        "keys",
        "sweep",
        "simulate",
        "login",
        "logout",
        "account",
        "members",
        "ownership",
    ):
        assert f"  {name} " in text
    assert "LICENSING_OPERATOR_KEY" in text and "LICENSING_API_KEY" in text
    assert "shell history" in text


@pytest.mark.parametrize("group", ["tenants", "types", "devices", "settings", "keys", "usage", "members", "ownership"])
def test_every_group_has_help(group):
    result = run(group, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_a_key_flag_works_as_well_as_the_variable(licensing, trial_tenant):
    result = licensing("--api-key", trial_tenant.api_key, "license")
    assert result.exit_code == 0 and "TRIAL" in result.stdout


def test_a_bad_url_is_a_usage_error():
    result = run("--url", "ftp://example.com", "license", env={"LICENSING_API_KEY": "lk_api.x.y"})
    assert result.exit_code == 2 and "--url" in result.stderr


def test_parameter_types():
    assert DURATION.convert("24h", None, None) == 86400
    assert DURATION.convert("7d", None, None) == 604800
    assert DURATION.convert("90", None, None) == 90
    assert MONTH.convert("2026-02", None, None) == "2026-02"
    assert TIMESTAMP.convert("2026-11-01", None, None) == "2026-11-01T00:00:00Z"
    assert TIMESTAMP.convert("2026-11-01T02:00:00+02:00", None, None) == "2026-11-01T00:00:00Z"


def test_sweep_without_a_local_stack_says_so(tmp_path):
    result = run("sweep", "deactivate_silent", "--at", "2026-12-01T00:00:00Z", "--port", "1")
    assert result.exit_code == 1
    assert "no local stack is running on port 1" in result.stderr


def test_sweep_refuses_an_unknown_function_and_a_bad_time():
    unknown = run("sweep", "expire_everything", "--port", "1")
    assert unknown.exit_code == 2 and "expire_trials" in unknown.stderr
    bad_time = run("sweep", "all", "--at", "tomorrow", "--port", "1")
    assert bad_time.exit_code == 2 and "RFC 3339" in bad_time.stderr


def test_json_may_come_after_the_command_too(licensing, trial_tenant):
    before = licensing("--json", "types", "list", tenant=trial_tenant)
    after = licensing("types", "list", "--json", tenant=trial_tenant)
    assert after.exit_code == 0 and after.stdout == before.stdout
    assert '"license_types"' in after.stdout

    error = licensing("devices", "show", "nope", "--json", tenant=trial_tenant)
    assert error.exit_code == 1 and '"code": "NOT_FOUND"' in error.stdout
