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

LOADMASTER = {"mac": "00:50:56:aa:bb:cc", "ip": "10.0.0.5", "port": 443, "sku": "VLM-MAX-SPLA",
              "image": "LoadMaster-VLM-7.2.47-SPLA.ova", "version": "7.2.47"}
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
    tenants = requests.get(f"{base}/v1/tenants", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                           timeout=TIMEOUT)
    assert tenants.status_code == 200, tenants.text
    assert [t["tenant_id"] for t in tenants.json()["tenants"]] == [info["tenant_id"]]

    offered = requests.post(f"{base}/v1/activation/license-types", json=LOADMASTER, headers=loadmaster_keys,
                            timeout=TIMEOUT)
    assert offered.status_code == 200, offered.text
    [only] = offered.json()["license_types"]
    assert only["lic_type_id"] == info["lic_type_id"]
    assert (only["sku"], only["capacity"], only["in_use"], only["available"]) == ("VLM-MAX-SPLA", 5, 0, 5)

    granted = requests.post(f"{base}/v1/activations", json={**LOADMASTER, "lic_type_id": info["lic_type_id"]},
                            headers=loadmaster_keys, timeout=TIMEOUT)
    assert granted.status_code == 201, granted.text
    device = granted.json()
    assert device["status"] == "PENDING"
    assert device["device_token"]

    confirmed = requests.post(f"{base}/v1/devices/{device['device_id']}/confirm",
                              headers={"Authorization": f"Device {device['device_token']}"}, timeout=TIMEOUT)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "ACTIVE"

    state = requests.get(f"{base}/v1/license", headers=admin, timeout=TIMEOUT)
    assert state.status_code == 200, state.text
    assert (state.json()["state"], state.json()["in_use"]) == ("TRIAL", 1)

    jwks = requests.get(f"{base}/v1/.well-known/jwks.json", timeout=TIMEOUT)
    assert jwks.status_code == 200
    assert jwks.json()["keys"], "the JWKS publishes no key"
    claims = verify_with_jwks(device["license"], jwks.json())
    assert (claims["sub"], claims["tid"], claims["lic_type_id"]) == (device["device_id"], info["tenant_id"],
                                                                    info["lic_type_id"])

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
    granted = requests.post(f"{stack.base_url}/v1/activations", json={**LOADMASTER, "lic_type_id": info["lic_type_id"]},
                            headers={"X-Activation-Key": info["activation_key"]}, timeout=TIMEOUT).json()

    from datetime import UTC, datetime, timedelta

    in_two_days = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    swept = subprocess.run([sys.executable, "-m", "local.sweep", "block_unconfirmed", "--port", str(stack.port),
                            "--at", in_two_days], cwd=ROOT, capture_output=True, text=True,
                           timeout=60, env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")})
    check_in = requests.post(f"{stack.base_url}/v1/devices/{granted['device_id']}/check-ins",
                             json={k: LOADMASTER[k] for k in ("mac", "ip", "port", "version")},
                             headers={"Authorization": f"Device {granted['device_token']}"}, timeout=TIMEOUT)

    assert swept.returncode == 0, swept.stderr
    reports = json.loads(swept.stdout)
    assert reports["block_unconfirmed"]["acted"] == 1
    assert check_in.status_code == 403 and check_in.json()["error"]["code"] == "DEVICE_BLOCKED"
