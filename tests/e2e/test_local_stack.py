"""``make run`` end to end: the local stack in a subprocess, real HTTP, a clean stop."""

from __future__ import annotations

import base64
import json
import signal
import socket
import urllib.parse

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.e2e.conftest import OPERATOR_KEY, RunningStack, alive, chalice_local_pids, group_alive

pytestmark = pytest.mark.e2e

LOADMASTER = {
    "mac": "00:50:56:aa:bb:cc",
    "ip": "10.0.0.5",
    "port": 443,
    "sku": "VLM-MAX-SPLA",
    "image": "LoadMaster-VLM-7.2.47-SPLA.ova",
    "version": "7.2.47",
}
TIMEOUT = 10


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_with_jwks(token: str, jwks: dict) -> dict:
    """What a LoadMaster does offline: check the lease's EdDSA signature with a published key."""
    header_b64, claims_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert header["alg"] == "EdDSA"
    key = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    key.verify(b64url_decode(signature_b64), f"{header_b64}.{claims_b64}".encode())  # raises if forged
    return json.loads(b64url_decode(claims_b64))


def assert_stopped_cleanly(stack: RunningStack, sig: int) -> None:
    code = stack.stop(sig)

    assert code == 0, stack.output()[-4000:]
    assert not group_alive(stack.api_pgid), "chalice local's process group outlived the stack"
    assert chalice_local_pids(stack.port) == []
    assert not alive(stack.process.pid)
    moto = urllib.parse.urlsplit(stack.info["moto_endpoint"])
    with pytest.raises(OSError):  # moto served from the stack's process: gone with it
        socket.create_connection((moto.hostname, moto.port), timeout=2).close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{stack.base_url}/v1/health", timeout=2)


def test_a_loadmaster_is_licensed_over_http_and_the_stack_stops_on_sigterm(stack: RunningStack):
    base, info = stack.base_url, stack.info
    loadmaster_keys = {"X-Activation-Key": info["activation_key"]}
    admin = {"Authorization": f"Bearer {info['api_key']}"}

    health = requests.get(f"{base}/v1/health", timeout=TIMEOUT)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert info["operator_key"] == OPERATOR_KEY  # taken from OPERATOR_KEY, as documented
    tenants = requests.get(f"{base}/v1/tenants", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=TIMEOUT)
    assert tenants.status_code == 200, tenants.text
    assert [t["tenant_id"] for t in tenants.json()["tenants"]] == [info["tenant_id"]]

    offered = requests.post(
        f"{base}/v1/activation/license-types", json=LOADMASTER, headers=loadmaster_keys, timeout=TIMEOUT
    )
    assert offered.status_code == 200, offered.text
    [only] = offered.json()["license_types"]
    assert only["lic_type_id"] == info["lic_type_id"]
    assert (only["sku"], only["capacity"], only["in_use"], only["available"]) == ("VLM-MAX-SPLA", 5, 0, 5)

    granted = requests.post(
        f"{base}/v1/activations",
        json={**LOADMASTER, "lic_type_id": info["lic_type_id"]},
        headers=loadmaster_keys,
        timeout=TIMEOUT,
    )
    assert granted.status_code == 201, granted.text
    device = granted.json()
    assert device["status"] == "PENDING"
    assert device["device_token"]

    confirmed = requests.post(
        f"{base}/v1/devices/{device['device_id']}/confirm",
        headers={"Authorization": f"Device {device['device_token']}"},
        timeout=TIMEOUT,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "ACTIVE"

    state = requests.get(f"{base}/v1/license", headers=admin, timeout=TIMEOUT)
    assert state.status_code == 200, state.text
    assert (state.json()["state"], state.json()["in_use"]) == ("TRIAL", 1)

    jwks = requests.get(f"{base}/v1/.well-known/jwks.json", timeout=TIMEOUT)
    assert jwks.status_code == 200
    assert jwks.json()["keys"], "the JWKS publishes no key"
    claims = verify_with_jwks(device["license"], jwks.json())
    assert (claims["sub"], claims["tid"], claims["lic_type_id"]) == (
        device["device_id"],
        info["tenant_id"],
        info["lic_type_id"],
    )

    assert_stopped_cleanly(stack, signal.SIGTERM)


def test_ctrl_c_stops_the_api_and_moto(stack: RunningStack):
    assert requests.get(f"{stack.base_url}/v1/health", timeout=TIMEOUT).status_code == 200
    assert chalice_local_pids(stack.port) == [stack.info["api_pid"]]

    assert_stopped_cleanly(stack, signal.SIGINT)


def test_a_sweep_run_at_a_chosen_time_blocks_an_unconfirmed_loadmaster(stack: RunningStack):
    import os
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT

    info = stack.info
    granted = requests.post(
        f"{stack.base_url}/v1/activations",
        json={**LOADMASTER, "lic_type_id": info["lic_type_id"]},
        headers={"X-Activation-Key": info["activation_key"]},
        timeout=TIMEOUT,
    ).json()

    from datetime import UTC, datetime, timedelta

    in_two_days = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    swept = subprocess.run(
        [sys.executable, "-m", "local.sweep", "block_unconfirmed", "--port", str(stack.port), "--at", in_two_days],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")},
    )
    check_in = requests.post(
        f"{stack.base_url}/v1/devices/{granted['device_id']}/check-ins",
        json={k: LOADMASTER[k] for k in ("mac", "ip", "port", "version")},
        headers={"Authorization": f"Device {granted['device_token']}"},
        timeout=TIMEOUT,
    )

    assert swept.returncode == 0, swept.stderr
    reports = json.loads(swept.stdout)
    assert reports["block_unconfirmed"]["acted"] == 1
    assert check_in.status_code == 403 and check_in.json()["error"]["code"] == "DEVICE_BLOCKED"


# --- accounts (issue 15) ----------------------------------------------------------------------------


def _mail(stack: RunningStack, to: str, why: str) -> list[str]:
    from pathlib import Path

    from local.accounts import read_mail

    return [m["code"] for m in read_mail(Path(stack.info["mailbox"]), to=to) if m["why"] == why]


def test_the_demo_account_owns_the_demo_tenant_and_the_mailed_codes_are_shown(stack: RunningStack):
    base, info = stack.base_url, stack.info
    email, password = info["account_email"], info["account_password"]

    session = requests.post(f"{base}/v1/sessions", json={"email": email, "password": password}, timeout=TIMEOUT)
    assert session.status_code == 200, session.text
    owner = {"Authorization": f"Bearer {session.json()['access_token']}"}
    account = requests.get(f"{base}/v1/account", headers=owner, timeout=TIMEOUT).json()
    assert [(t["tenant_id"], t["role"]) for t in account["tenants"]] == [(info["tenant_id"], "owner")]
    license_ = requests.get(f"{base}/v1/license", headers=owner, timeout=TIMEOUT)
    assert license_.status_code == 200 and license_.json()["state"] == "TRIAL", license_.text
    # The demo registration's code went to the mailbox (what AWS would have mailed).
    assert len(_mail(stack, email, "registration")) == 1

    # A password reset: the code Cognito would mail is shown, and sets the new password.
    reset = requests.post(f"{base}/v1/accounts/password-reset", json={"email": email}, timeout=TIMEOUT)
    assert reset.status_code == 202, reset.text
    (code,) = _mail(stack, email, "password reset")
    assert code.isdigit() and len(code) == 6
    assert f"local stack: mail to {email} (password reset): code {code}" in stack.output()
    new_password = "Another-passw0rd-42"
    done = requests.post(
        f"{base}/v1/accounts/password-reset/confirm",
        json={"email": email, "code": code, "password": new_password},
        timeout=TIMEOUT,
    )
    assert done.status_code == 200, done.text
    again = requests.post(f"{base}/v1/sessions", json={"email": email, "password": new_password}, timeout=TIMEOUT)
    assert again.status_code == 200, again.text
    # An email without an account gets the same answer and no mail (no account enumeration).
    nobody = requests.post(f"{base}/v1/accounts/password-reset", json={"email": "nobody@example.com"}, timeout=TIMEOUT)
    assert (nobody.status_code, nobody.json()) == (reset.status_code, reset.json())
    assert _mail(stack, "nobody@example.com", "password reset") == []


def test_a_registration_left_unconfirmed_is_purged_by_the_sweep_and_may_register_again(stack: RunningStack):
    import os
    import subprocess
    import sys
    from datetime import UTC, datetime, timedelta

    from tests.e2e.conftest import ROOT

    base, email = stack.base_url, "late@example.com"
    body = {"email": email, "password": "Late-passw0rd-42", "name": "Late"}
    assert requests.post(f"{base}/v1/accounts", json=body, timeout=TIMEOUT).status_code == 202

    def purge(at: datetime) -> dict:
        swept = subprocess.run(
            [
                sys.executable,
                "-m",
                "local.sweep",
                "purge_unconfirmed",
                "--port",
                str(stack.port),
                "--at",
                at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")},
        )
        assert swept.returncode == 0, swept.stderr
        return json.loads(swept.stdout)["purge_unconfirmed"]

    now = datetime.now(UTC)
    assert purge(now + timedelta(hours=23))["acted"] == 0
    assert purge(now + timedelta(hours=25))["acted"] == 1
    again = requests.post(f"{base}/v1/accounts", json=body, timeout=TIMEOUT)
    assert again.status_code == 202, again.text
    assert len(_mail(stack, email, "registration")) == 2  # a new registration, a new code


def test_the_banner_shows_the_demo_account_beside_the_keys(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from tests.e2e.conftest import _PASSED_ON, READY_TIMEOUT_S, ROOT, free_port, kill_everything

    port = free_port()
    log_path = tmp_path / "banner.log"
    env = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    env |= {"OPERATOR_KEY": OPERATOR_KEY, "DEMO_PASSWORD": "Banner-passw0rd-42"}
    with log_path.open("wb") as log:  # as make run starts it, printing the banner
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", "--port", str(port), "--no-schedules"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "Ctrl-C stops everything." not in log_path.read_text(errors="replace"):
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.1)
        lines = log_path.read_text(errors="replace").splitlines()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except Exception:
            kill_everything(process, None)

    def value(label: str) -> str:
        (found,) = [line.split(None, len(label.split()))[-1] for line in lines if line.startswith(f"  {label} ")]
        return found

    assert value("operator key") == OPERATOR_KEY
    assert value("api key").startswith("lk_api.") and value("activation key").startswith("lk_act.")
    assert any(line.startswith("Demo account (owner of the demo tenant") for line in lines)
    assert (value("email"), value("password")) == ("demo@example.com", "Banner-passw0rd-42")
    assert value("user pool").startswith("us-east-1_") and "(app client " in value("user pool")
    assert f".local/mail-{port}.jsonl" in value("mail")
    # The code of the demo's registration, as Cognito would have mailed it.
    assert any(line.startswith("local stack: mail to demo@example.com (registration): code ") for line in lines)
    assert f"  licensing --url http://127.0.0.1:{port} login --email demo@example.com" in lines
