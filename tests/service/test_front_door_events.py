"""The LoadMasters reach the API function through one of two front doors: an HTTP API (the
default, ``DeviceApi``, payload format 1.0) or a Lambda function URL (``DeviceFrontDoor=
FunctionUrl``, payload format 2.0, read through ``chalicelib/api/function_url.py``). For every
route a door serves (the five LoadMaster routes, the JWKS, health), on success and on each
refusal, the door's event goes through the Lambda handler ``app.app`` itself and must be answered
as the REST API's event of the same call is: same status, body and headers. The events are built
as AWS documents them (tests/front_doors.py).

A call that changes state goes through both shapes, each shape first once (on a device of its
own): the second answers the retry of the first, which the contract makes safe with the same
answer.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from infra.template import DEVICE_ROUTES, device_route_key, gateway_responses
from tests.conftest import LM, first_type_id, lm
from tests.front_doors import (
    Answer,
    Call,
    function_url_event,
    http_api_event,
    invoke,
    invoke_url,
    rest_event,
)


@dataclass(frozen=True)
class Door:
    name: str
    event: Callable[[Call], dict[str, Any]]  # for a call the door routes to the function
    unrouted: Callable[[Call], dict[str, Any]]  # for a path it has no route for
    invoke: Callable[[dict[str, Any]], Answer]

    def both(self, call: Call, door_first: bool = False) -> tuple[Answer, Answer]:
        """``call`` through the REST API's shape and this door's, in that order or the other."""
        if door_first:
            door = self.invoke(self.event(call))
            return invoke(rest_event(call)), door
        rest = invoke(rest_event(call))
        return rest, self.invoke(self.event(call))


DOORS = [
    # An HTTP API sends a path no route takes to its $default route, the function.
    Door("http-api", http_api_event, lambda call: http_api_event(call, route="$default"), invoke),
    # A function URL has no routes: every path reaches the function.
    Door("function-url", function_url_event, function_url_event, invoke_url),
]


@pytest.fixture(params=DOORS, ids=[door.name for door in DOORS])
def door(request) -> Door:
    return request.param


def assert_same(rest: Answer, other: Answer, status: int, code: str | None = None) -> None:
    """Same status, body and headers (every header the app set: API Gateway's own, such as a
    request id, are added after the function)."""
    assert (other.status, other.body) == (rest.status, rest.body)
    assert rest.status == status, rest.body
    if code is not None:
        assert rest.body["error"]["code"] == code, rest.body
    assert other.headers == rest.headers
    assert rest.headers.get("content-type") == "application/json"


JSON = {"Content-Type": "application/json"}


def _lm_body(**overrides) -> str:
    return json.dumps(lm(**overrides))


def _activation(keys, lic_type_id: str, **overrides) -> Call:
    return Call(
        "POST",
        "/v1/activations",
        "/v1/activations",
        {**JSON, "X-Activation-Key": keys.activation_key, "Idempotency-Key": f"k-{uuid.uuid4().hex}"},
        json.dumps({**lm(**overrides), "lic_type_id": lic_type_id}),
    )


def _device(keys, lic_type_id: str, mac: str) -> tuple[str, dict[str, str]]:
    granted = invoke(rest_event(_activation(keys, lic_type_id, mac=mac, ip=f"10.0.{int(mac[-2:], 16)}.5")))
    assert granted.status == 201, granted.body
    return granted.body["device_id"], {**JSON, "Authorization": f"Device {granted.body['device_token']}"}


def _device_call(verb: str, device_id: str, headers: dict[str, str], body: dict | str | None = None) -> Call:
    return Call(
        "POST",
        f"/v1/devices/{device_id}/{verb}",
        f"/v1/devices/{{device_id}}/{verb}",
        headers,
        body if body is None or isinstance(body, str) else json.dumps(body),
    )


def _check_in_body(mac: str) -> dict[str, Any]:
    return {"mac": mac, "ip": f"10.0.{int(mac[-2:], 16)}.5", "port": 443, "version": "7.2.47"}


@pytest.fixture
def tenant(api, trial_tenant):
    return trial_tenant, first_type_id(api, trial_tenant)


# -- what each door routes ----------------------------------------------------------------------


def test_the_http_api_serves_exactly_these_routes_of_the_app():
    from app import app
    from chalicelib.api.http import LOADMASTER_ROLES, OPERATIONS

    loadmaster = {op.path for op in OPERATIONS if op.auth in LOADMASTER_ROLES}
    assert set(DEVICE_ROUTES.values()) == loadmaster | {"/v1/.well-known/jwks.json", "/v1/health"}
    assert len(loadmaster) == 5
    for path in DEVICE_ROUTES.values():
        # Routed by the method too (ANY): a wrong method reaches the function and gets the contract's 405.
        method, route_path = device_route_key(path).split(" ", 1)
        assert method == "ANY"
        # The route key's path is the resourcePath Chalice looks its route table up with, verbatim.
        assert route_path in app.routes, route_path


def test_the_function_url_serves_the_routes_the_http_api_serves():
    """Every route of the HTTP API (the LoadMasters', JWKS, health) is matched, with its
    parameters; nothing else is."""
    from app import app
    from chalicelib.api.function_url import NO_ROUTE

    for path in DEVICE_ROUTES.values():
        assert app.route_of(path.replace("{device_id}", "dev%2D1")) == (
            path,
            {"device_id": "dev-1"} if "{device_id}" in path else None,
        )
    assert {"/".join(route) for route in app.served} == set(DEVICE_ROUTES.values())
    assert app.route_of("/v1/license-types") == (NO_ROUTE, None)
    assert app.route_of("/v1/devices//confirm") == (NO_ROUTE, None)


# -- the same answers through the REST API and each door -----------------------------------------


def test_license_types_alike_and_refused_alike(tenant, door):
    keys, _ = tenant
    path = "/v1/activation/license-types"
    good = Call("POST", path, path, {**JSON, "X-Activation-Key": keys.activation_key}, _lm_body())
    rest, other = door.both(good)
    assert_same(rest, other, 200)
    assert rest.body["license_types"]

    wrong_key = Call("POST", path, path, {**JSON, "X-Activation-Key": "lk_act.wrong"}, _lm_body())
    assert_same(*door.both(wrong_key), 401, "VERIFY_FAILED")
    assert_same(*door.both(Call("POST", path, path, good.headers, '{"mac": ')), 400, "INVALID_INITIALIZATION")
    unknown_sku = Call("POST", path, path, good.headers, _lm_body(sku="NOT-A-SKU"))
    assert_same(*door.both(unknown_sku), 404, "NO_LICENSE_FOR_SKU")


@pytest.mark.parametrize("door_first", [False, True], ids=["rest-first", "door-first"])
def test_an_activation_alike_through_both_shapes(tenant, door, door_first):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:bb:0b" if door_first else "00:50:56:aa:bb:0a"
    call = _activation(keys, lic_type_id, mac=mac, ip="10.0.9.9" if door_first else "10.0.9.8")

    rest, other = door.both(call, door_first=door_first)

    # The second is the first one's replay (same Idempotency-Key): the first did the work.
    replayed, first = (rest, other) if door_first else (other, rest)
    assert replayed.headers.pop("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert_same(rest, other, 201)


def test_activation_refusals_alike(tenant, door):
    keys, lic_type_id = tenant
    good = _activation(keys, lic_type_id)

    def with_(headers: dict[str, str] | None = None, body: str | None = None) -> Call:
        return Call("POST", good.path, good.route, {**good.headers, **(headers or {})}, body or good.body)

    assert_same(*door.both(with_(body="not json")), 400, "INVALID_INITIALIZATION")
    assert_same(*door.both(with_(body=json.dumps({"mac": LM["mac"]}))), 400, "INVALID_INITIALIZATION")
    assert_same(*door.both(with_({"X-Activation-Key": "nope"})), 401, "VERIFY_FAILED")
    assert_same(*door.both(with_({"Idempotency-Key": "bad key!"})), 400, "INVALID_INITIALIZATION")


@pytest.mark.parametrize("door_first", [False, True], ids=["rest-first", "door-first"])
@pytest.mark.parametrize("verb", ["confirm", "check-ins", "deactivate"])
def test_a_device_call_alike_through_both_shapes(tenant, door, verb, door_first):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:bb:2b" if door_first else "00:50:56:aa:bb:2a"
    device_id, headers = _device(keys, lic_type_id, mac)
    body = _check_in_body(mac) if verb == "check-ins" else None

    rest, other = door.both(_device_call(verb, device_id, headers, body), door_first=door_first)

    assert_same(rest, other, 200)
    assert rest.body["status"] == {"confirm": "ACTIVE", "check-ins": "PENDING", "deactivate": "DEACTIVATED"}[verb]
    if verb == "check-ins":
        assert rest.body["license"] and rest.body["device_token"]


@pytest.mark.parametrize("verb", ["confirm", "check-ins", "deactivate"])
def test_device_call_refusals_alike(tenant, door, verb):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:bb:3c"
    device_id, headers = _device(keys, lic_type_id, mac)
    _, other_headers = _device(keys, lic_type_id, "00:50:56:aa:bb:3d")
    body = _check_in_body(mac) if verb == "check-ins" else None

    # A token that is not one, and another device's token for this device.
    bad_token = {**JSON, "Authorization": "Device not-a-token"}
    assert_same(*door.both(_device_call(verb, device_id, bad_token, body)), 401, "VERIFY_FAILED")
    refused = door.both(_device_call(verb, device_id, other_headers, body))
    assert_same(*refused, refused[0].status)
    assert refused[0].status in (401, 403, 404), refused[0].body
    # A device the service does not know.
    unknown = door.both(_device_call(verb, "dev-unknown", headers, body))
    assert_same(*unknown, unknown[0].status)
    assert unknown[0].status in (401, 403, 404), unknown[0].body
    if verb == "check-ins":
        incomplete = _device_call(verb, device_id, headers, {"mac": mac})
        assert_same(*door.both(incomplete), 400, "INVALID_INITIALIZATION")
        assert_same(*door.both(_device_call(verb, device_id, headers, "{")), 400, "INVALID_INITIALIZATION")


def test_a_base64_body_without_content_type_is_read_alike(tenant, door):
    """Both doors pass a body as text only when its Content-Type says text (``text/*``,
    ``application/json``...); any other body, or one without a Content-Type, reaches the function
    base64-encoded with ``isBase64Encoded`` true. A LoadMaster that omits its Content-Type is
    answered as if it had sent it."""
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:bb:4a"
    device_id, headers = _device(keys, lic_type_id, mac)
    plain = _device_call("check-ins", device_id, headers, _check_in_body(mac))
    untyped = {k: v for k, v in headers.items() if k != "Content-Type"}
    event = door.event(Call(plain.method, plain.path, plain.route, untyped))
    event["body"], event["isBase64Encoded"] = base64.b64encode(plain.body.encode()).decode(), True

    rest, other = invoke(rest_event(plain)), door.invoke(event)

    assert_same(rest, other, 200)
    assert rest.body["status"] == "PENDING"


@pytest.mark.parametrize("name", list(DEVICE_ROUTES))
def test_a_wrong_method_is_405_with_allow_alike(tenant, door, name):
    path = DEVICE_ROUTES[name].replace("{device_id}", "dev-1")

    rest, other = door.both(Call("PUT", path, DEVICE_ROUTES[name], JSON))

    assert_same(rest, other, 405, "METHOD_NOT_ALLOWED")
    assert rest.headers["allow"]


@pytest.mark.parametrize("name", ["Jwks", "Health"])
def test_jwks_and_health_alike(tenant, door, name):
    path = DEVICE_ROUTES[name]

    rest, other = door.both(Call("GET", path, path, {}))

    assert (other.status, other.body) == (rest.status, rest.body) and rest.status == 200
    assert other.headers == rest.headers
    # The JWKS may be cached by LoadMasters and proxies; health never is.
    assert ("cache-control" in rest.headers) == (name == "Jwks")


# -- what a door does not serve ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("POST", "/v1/tenants"),
        ("GET", "/"),
        ("GET", "/v1/devices/a/b/c/d"),
        ("DELETE", "/v1/license"),
        ("GET", "/v1/health/"),
        ("GET", "/openapi.json"),
    ],
)
def test_a_path_the_door_does_not_serve_is_the_contracts_404(aws, door, method, path):
    """As the REST API's gateway response (infra/template.py, gateway_responses) answers a path it
    has no route for: the same status and body."""
    answer = door.invoke(door.unrouted(Call(method, path, path, JSON)))

    rest_gateway = gateway_responses()["RESOURCE_NOT_FOUND"]
    assert answer.status == int(rest_gateway["StatusCode"]) == 404
    assert answer.body == json.loads(rest_gateway["ResponseTemplates"]["application/json"])
    assert answer.headers["content-type"] == "application/json"


def test_the_administration_is_refused_through_the_door(tenant, door):
    """An admin route, with a good tenant key: served by the REST API, unknown to the door."""
    keys, _ = tenant
    call = Call("GET", "/v1/license-types", "/v1/license-types", keys.admin)

    rest, other = invoke(rest_event(call)), door.invoke(door.unrouted(call))

    assert rest.status == 200, rest.body
    assert other.status == 404 and other.body["error"]["code"] == "NOT_FOUND"


def test_a_query_string_and_cookies_through_the_function_url_change_nothing(tenant):
    """Neither is part of the contract's LoadMaster calls; a client that sends them is answered
    as if it had not (and the event Chalice reads stays well-formed)."""
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:cc:5a"
    device_id, headers = _device(keys, lic_type_id, mac)
    call = _device_call("check-ins", device_id, headers, _check_in_body(mac))

    rest = invoke(rest_event(call))
    url = invoke_url(function_url_event(call, query="a=1&a=2&b=", cookies=["c1=x", "c2=y"]))

    assert_same(rest, url, 200)
