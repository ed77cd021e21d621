"""The CLI as a user runs it: a separate process speaking real HTTP to the local stack
(``make run``), including ``simulate`` and ``sweep``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import _PASSED_ON, OPERATOR_KEY, ROOT

pytestmark = pytest.mark.e2e


def licensing(stack, *args: str, api_key: str | None = None, activation_key: str | None = None) -> dict:
    """``licensing --json ...`` in its own process (the installed script when there is one)."""
    script = Path(sys.executable).with_name("licensing")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "cli.main"]
    env = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    env |= {"LICENSING_URL": stack.base_url, "LICENSING_OPERATOR_KEY": OPERATOR_KEY}
    env |= {"LICENSING_API_KEY": api_key} if api_key else {}
    env |= {"LICENSING_ACTIVATION_KEY": activation_key} if activation_key else {}
    done = subprocess.run([*command, "--json", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def test_a_fleet_over_http_then_a_sweep_reclaims_the_silent_ones(stack):
    demo = stack.info
    tenants = licensing(stack, "tenants", "list")["tenants"]
    assert [t["tenant_id"] for t in tenants] == [demo["tenant_id"]]

    # Concurrent LoadMasters: exact counts need the local stack's moto to apply each request
    # atomically, as DynamoDB does (local.stack.atomic_moto_server).
    summary = licensing(
        stack,
        "simulate",
        "--count",
        "6",
        "--rounds",
        "2",
        "--silent",
        "0.4",
        "--concurrency",
        "4",
        activation_key=demo["activation_key"],
    )
    assert summary["granted"] == 5 and summary["refused"] == {"INSTANCE_LIMIT_REACHED": 1}
    assert summary["silent"] == 2 and summary["check_ins"]["ok"] == 3 * 2 and summary["failures"] == 0

    reports = licensing(stack, "sweep", "deactivate_silent", "--at", "2099-01-01T00:00:00Z", "--port", str(stack.port))
    assert reports["deactivate_silent"]["acted"] == 5  # silent since their last word, all of them by 2099

    devices = licensing(stack, "devices", "list", "--all", "--limit", "2", api_key=demo["api_key"])["devices"]
    assert len(devices) == 5 and {d["status"] for d in devices} == {"DEACTIVATED"}
    assert licensing(stack, "license", api_key=demo["api_key"])["in_use"] == 0


def test_login_over_http_keeps_a_private_session_that_tenant_commands_use(stack, tmp_path):
    """The demo account of ``make run`` signs in from a shell: password on stdin, no key set."""
    import stat

    demo = stack.info
    script = Path(sys.executable).with_name("licensing")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "cli.main"]
    config = tmp_path / "config"
    env = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    env |= {"LICENSING_URL": stack.base_url, "XDG_CONFIG_HOME": str(config)}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command, *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,
        )  # no terminal: getpass cannot be it

    signed_in = run("login", "--email", demo["account_email"], "--password-stdin", stdin=demo["account_password"])
    assert signed_in.returncode == 0, signed_in.stderr
    session = config / "licensing" / "session.json"
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert demo["account_password"] not in session.read_text()

    members = run("--json", "members", "list")
    assert members.returncode == 0, members.stderr
    assert [(m["email"], m["role"]) for m in json.loads(members.stdout)["members"]] == [
        (demo["account_email"], "owner")
    ]
    license_ = run("--json", "license")
    assert json.loads(license_.stdout)["state"] == "TRIAL"

    assert run("logout").returncode == 0
    after = run("license")
    assert after.returncode == 2 and "licensing login" in after.stderr
