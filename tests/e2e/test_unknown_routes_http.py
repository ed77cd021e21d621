"""Over HTTP against the local stack: unknown paths, unsupported methods and the malformed
inputs of issue 11 are answered in the contract's terms (a 4xx with the error body), never with
Chalice's own bodies or a 5xx."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from tests.e2e.conftest import OPERATOR_KEY, kill_everything, start_stack
from tests.service.test_hostile_input import FORGED_DEVICE_TOKENS, HOSTILE_BODIES, _forged

pytestmark = pytest.mark.e2e

NOT_FOUND = {"error": {"code": "NOT_FOUND", "message": "Not found.", "detail": {}}}
NOT_ALLOWED = {
    "error": {"code": "METHOD_NOT_ALLOWED", "message": "This method is not allowed on this path.", "detail": {}}
}
CHECK_IN = {"mac": "00:50:56:aa:bb:cc", "ip": "10.0.0.5", "port": 443, "version": "7.2.47"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("unknown-routes"))
    yield running
    kill_everything(running.process, running.api_pgid)


def _call(stack, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{stack.base_url}{path}", timeout=10, **kwargs)


def _assert_contract_error(reply: requests.Response, status: int, code: str) -> None:
    assert reply.status_code == status, (reply.status_code, reply.text)
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}, body
    assert body["error"]["code"] == code, body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("POST", "/v1/nope"),
        ("GET", "/"),
        ("GET", "/v1/devices/a/b/c/d"),
        ("DELETE", "/v2/license"),
        ("GET", "/v1/nope?next=x"),
        ("OPTIONS", "/v1/nope"),
    ],
)
def test_an_unknown_path_is_404_not_found_in_the_contracts_body(stack, method, path):
    reply = _call(stack, method, path, headers={"Authorization": f"Bearer {OPERATOR_KEY}"})

    assert reply.status_code == 404 and reply.json() == NOT_FOUND, reply.text
    assert reply.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/license", {"GET"}),
        ("PUT", "/v1/tenants", {"GET", "POST"}),
        ("GET", "/v1/activations", {"POST"}),
        ("PATCH", "/v1/devices/some-device", {"GET", "DELETE"}),
    ],
)
def test_an_unsupported_method_is_405_in_the_contracts_body_with_allow(stack, method, path, allowed):
    reply = _call(stack, method, path)

    assert reply.status_code == 405 and reply.json() == NOT_ALLOWED, reply.text
    assert {m.strip() for m in reply.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize("token", FORGED_DEVICE_TOKENS.values(), ids=FORGED_DEVICE_TOKENS.keys())
def test_an_unauthenticated_forged_device_token_is_verify_failed(stack, token):
    token = token[:10_000]  # a header line of the HTTP server's own limit is refused before the API
    for action in ("confirm", "check-ins", "deactivate"):
        reply = _call(
            stack,
            "POST",
            f"/v1/devices/some-device/{action}",
            json=CHECK_IN,
            headers={"Authorization": f"Device {token}"},
        )

        _assert_contract_error(reply, 401, "VERIFY_FAILED")


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_a_hostile_body_is_a_400_in_the_contracts_terms(stack, body):
    info = stack.info

    admin = _call(
        stack,
        "POST",
        "/v1/license-types",
        data=body,
        headers={"Authorization": f"Bearer {info['api_key']}", "Content-Type": "application/json"},
    )
    loadmaster = _call(
        stack,
        "POST",
        "/v1/activations",
        data=body,
        headers={"X-Activation-Key": info["activation_key"], "Content-Type": "application/json"},
    )

    _assert_contract_error(admin, 400, "VALIDATION_ERROR")
    _assert_contract_error(loadmaster, 400, "INVALID_INITIALIZATION")


@pytest.mark.parametrize("kid", [["a"], {"a": 1}], ids=["list", "object"])
def test_a_forged_cursor_is_a_validation_error(stack, kid):
    cursor = quote(_forged({"alg": "EdDSA", "typ": "cursor", "kid": kid}, {"k": {}, "s": "x"}))

    admin = {"Authorization": f"Bearer {stack.info['api_key']}"}

    reply = _call(stack, "GET", f"/v1/devices?next={cursor}", headers=admin)

    _assert_contract_error(reply, 400, "VALIDATION_ERROR")


def test_auth_schemes_are_case_insensitive(stack):
    info = stack.info

    admin = _call(stack, "GET", "/v1/license", headers={"Authorization": f"bearer {info['api_key']}"})
    operator = _call(stack, "GET", "/v1/tenants", headers={"Authorization": f"BEARER {OPERATOR_KEY}"})
    granted = _call(
        stack,
        "POST",
        "/v1/activations",
        headers={"X-Activation-Key": info["activation_key"]},
        json={
            **CHECK_IN,
            "mac": "00:50:56:ca:5e:01",
            "ip": "10.9.9.9",
            "sku": info["sku"],
            "image": "LoadMaster-VLM-7.2.47-SPLA.ova",
            "lic_type_id": info["lic_type_id"],
        },
    )
    confirmed = _call(
        stack,
        "POST",
        f"/v1/devices/{granted.json()['device_id']}/confirm",
        headers={"Authorization": f"device {granted.json()['device_token']}"},
    )

    assert (admin.status_code, operator.status_code, granted.status_code, confirmed.status_code) == (200, 200, 201, 200)
