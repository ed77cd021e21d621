"""The LoadMasters' optional front door is a Lambda function URL (infra/template.py,
``DeviceFrontDoor=FunctionUrl``), which sends payload format 2.0 only. Each call is built as
AWS documents a function URL's request ("Invoking Lambda function URLs", request payload: lower
case headers, ``rawPath``, ``rawQueryString``, ``cookies``, ``requestContext.http``), goes
through the Lambda handler ``app.app`` itself, and must be answered as the REST API's event of
the same call is: same status, body and headers, for every LoadMaster route, the JWKS and health,
on success and on each refusal. The administration stays on the REST API: through the function
URL its paths are the contract's 404.

As in tests/service/test_http_api_events.py, a call that changes state goes through both shapes,
each shape first once: the second answers the retry of the first.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest

from infra.template import DEVICE_ROUTES, gateway_responses
from tests.conftest import LM, first_type_id
from tests.service.test_http_api_events import (
    JSON,
    Answer,
    Call,
    LambdaContext,
    _activation,
    _check_in_body,
    _device,
    _device_call,
    _lm_body,
    assert_same,
    invoke,
    rest_event,
)

URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
DOMAIN = f"{URL_ID}.lambda-url.us-east-1.on.aws"
# A function URL's answer has these keys only: no multiValueHeaders.
RESPONSE_KEYS = {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}


def function_url_event(call: Call, query: str = "", cookies: list[str] | None = None) -> dict[str, Any]:
    """What a function URL (auth type NONE) sends for ``call``: no route, so no resource path
    or path parameters; ``routeKey`` and ``stage`` are ``$default``; repeated headers come joined
    with commas, cookies apart."""
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": call.path,
        "rawQueryString": query,
        "headers": {
            "host": DOMAIN,
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            "x-amzn-trace-id": "Root=1-" + uuid.uuid4().hex[:24],
            **{k.lower(): v for k, v in call.headers.items()},
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": DOMAIN,
            "domainPrefix": URL_ID,
            "http": {
                "method": call.method,
                "path": call.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "LoadMaster/7.2.47",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = {}
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            joined = event["queryStringParameters"].get(name)
            event["queryStringParameters"][name] = value if joined is None else f"{joined},{value}"
    if cookies:
        event["cookies"] = cookies
    if call.body is not None:
        event["body"] = call.body
    return event


def invoke_url(event: dict[str, Any]) -> Answer:
    from app import app

    result = app(event, LambdaContext())
    assert set(result) <= RESPONSE_KEYS, result
    assert all(isinstance(v, str) for v in result["headers"].values()), result["headers"]
    return invoke_result(result)


def invoke_result(result: dict[str, Any]) -> Answer:
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    return Answer(result["statusCode"], json.loads(result["body"]) if result.get("body") else None, headers)


def both(call: Call, url_first: bool = False) -> tuple[Answer, Answer]:
    """``call`` through the REST API's shape and the function URL's, in that order or the other."""
    if url_first:
        url = invoke_url(function_url_event(call))
        return invoke(rest_event(call)), url
    rest = invoke(rest_event(call))
    return rest, invoke_url(function_url_event(call))


def assert_same_headers(rest: Answer, url: Answer) -> None:
    """Every header the app set (API Gateway's own, such as a request id, aside)."""
    assert url.headers == rest.headers


@pytest.fixture
def tenant(api, trial_tenant):
    return trial_tenant, first_type_id(api, trial_tenant)


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


def test_license_types_alike_and_refused_alike(tenant):
    keys, _ = tenant
    path = "/v1/activation/license-types"
    good = Call("POST", path, path, {**JSON, "X-Activation-Key": keys.activation_key}, _lm_body())
    rest, url = both(good)
    assert_same(rest, url, 200)
    assert_same_headers(rest, url)
    assert rest.body["license_types"]

    assert_same(
        *both(Call("POST", path, path, {**JSON, "X-Activation-Key": "lk_act.wrong"}, _lm_body())), 401, "VERIFY_FAILED"
    )
    assert_same(*both(Call("POST", path, path, good.headers, '{"mac": ')), 400, "INVALID_INITIALIZATION")
    assert_same(*both(Call("POST", path, path, good.headers, _lm_body(sku="NOT-A-SKU"))), 404, "NO_LICENSE_FOR_SKU")


@pytest.mark.parametrize("url_first", [False, True], ids=["rest-first", "url-first"])
def test_an_activation_alike_through_both_shapes(tenant, url_first):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:cc:0b" if url_first else "00:50:56:aa:cc:0a"
    call = _activation(keys, lic_type_id, mac=mac, ip="10.0.8.9" if url_first else "10.0.8.8")

    rest, url = both(call, url_first=url_first)

    assert_same(rest, url, 201)
    replayed = rest if url_first else url
    assert replayed.headers.get("idempotent-replayed") == "true"


def test_activation_refusals_alike(tenant):
    keys, lic_type_id = tenant
    good = _activation(keys, lic_type_id)
    assert_same(*both(Call("POST", good.path, good.route, good.headers, "not json")), 400, "INVALID_INITIALIZATION")
    assert_same(
        *both(Call("POST", good.path, good.route, good.headers, json.dumps({"mac": LM["mac"]}))),
        400,
        "INVALID_INITIALIZATION",
    )
    assert_same(
        *both(Call("POST", good.path, good.route, {**good.headers, "X-Activation-Key": "nope"}, good.body)),
        401,
        "VERIFY_FAILED",
    )
    assert_same(
        *both(Call("POST", good.path, good.route, {**good.headers, "Idempotency-Key": "bad key!"}, good.body)),
        400,
        "INVALID_INITIALIZATION",
    )


@pytest.mark.parametrize("url_first", [False, True], ids=["rest-first", "url-first"])
@pytest.mark.parametrize("verb", ["confirm", "check-ins", "deactivate"])
def test_a_device_call_alike_through_both_shapes(tenant, verb, url_first):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:cc:2b" if url_first else "00:50:56:aa:cc:2a"
    device_id, headers = _device(keys, lic_type_id, mac)
    body = _check_in_body(mac) if verb == "check-ins" else None

    rest, url = both(_device_call(verb, device_id, headers, body), url_first=url_first)

    assert_same(rest, url, 200)
    assert_same_headers(rest, url)
    assert rest.body["status"] == {"confirm": "ACTIVE", "check-ins": "PENDING", "deactivate": "DEACTIVATED"}[verb]


@pytest.mark.parametrize("verb", ["confirm", "check-ins", "deactivate"])
def test_device_call_refusals_alike(tenant, verb):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:cc:3c"
    device_id, headers = _device(keys, lic_type_id, mac)
    _, other_headers = _device(keys, lic_type_id, "00:50:56:aa:cc:3d")
    body = _check_in_body(mac) if verb == "check-ins" else None

    bad_token = {**JSON, "Authorization": "Device not-a-token"}
    assert_same(*both(_device_call(verb, device_id, bad_token, body)), 401, "VERIFY_FAILED")
    refused = both(_device_call(verb, device_id, other_headers, body))
    assert_same(*refused, refused[0].status)
    assert refused[0].status in (401, 403, 404), refused[0].body
    unknown = both(_device_call(verb, "dev-unknown", headers, body))
    assert_same(*unknown, unknown[0].status)
    assert unknown[0].status in (401, 403, 404), unknown[0].body
    if verb == "check-ins":
        assert_same(*both(_device_call(verb, device_id, headers, {"mac": mac})), 400, "INVALID_INITIALIZATION")
        assert_same(
            *both(
                Call("POST", f"/v1/devices/{device_id}/check-ins", "/v1/devices/{device_id}/check-ins", headers, "{")
            ),
            400,
            "INVALID_INITIALIZATION",
        )


def test_a_base64_body_without_content_type_is_read_alike(tenant):
    """A function URL sends a body base64-encoded unless its Content-Type says text."""
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:cc:4a"
    device_id, headers = _device(keys, lic_type_id, mac)
    plain = _device_call("check-ins", device_id, headers, _check_in_body(mac))
    untyped = {k: v for k, v in headers.items() if k != "Content-Type"}
    event = function_url_event(Call(plain.method, plain.path, plain.route, untyped))
    event["body"], event["isBase64Encoded"] = base64.b64encode(plain.body.encode()).decode(), True

    rest, url = invoke(rest_event(plain)), invoke_url(event)

    assert_same(rest, url, 200)
    assert rest.body["status"] == "PENDING"


def test_a_query_string_and_cookies_change_nothing(tenant):
    """Neither is part of the contract's LoadMaster calls; a client that sends them is answered
    as if it had not (and the event Chalice reads stays well-formed)."""
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:cc:5a"
    device_id, headers = _device(keys, lic_type_id, mac)
    call = _device_call("check-ins", device_id, headers, _check_in_body(mac))

    rest = invoke(rest_event(call))
    url = invoke_url(function_url_event(call, query="a=1&a=2&b=", cookies=["c1=x", "c2=y"]))

    assert_same(rest, url, 200)


@pytest.mark.parametrize("name", list(DEVICE_ROUTES))
def test_a_wrong_method_is_405_with_allow_alike(tenant, name):
    path = DEVICE_ROUTES[name].replace("{device_id}", "dev-1")

    rest, url = both(Call("PUT", path, DEVICE_ROUTES[name], JSON))

    assert_same(rest, url, 405, "METHOD_NOT_ALLOWED")
    assert url.headers["allow"] == rest.headers["allow"]


@pytest.mark.parametrize("name", ["Jwks", "Health"])
def test_jwks_and_health_alike(tenant, name):
    path = DEVICE_ROUTES[name]

    rest, url = both(Call("GET", path, path, {}))

    assert (url.status, url.body) == (rest.status, rest.body) and rest.status == 200
    assert_same_headers(rest, url)


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
def test_a_path_the_function_url_does_not_serve_is_the_contracts_404(aws, method, path):
    """As the REST API's gateway response answers a path it has no route for."""
    answer = invoke_url(function_url_event(Call(method, path, path, JSON)))

    rest_gateway = gateway_responses()["RESOURCE_NOT_FOUND"]
    assert answer.status == int(rest_gateway["StatusCode"]) == 404
    assert answer.body == json.loads(rest_gateway["ResponseTemplates"]["application/json"])
    assert answer.headers["content-type"] == "application/json"


def test_the_administration_is_refused_through_the_function_url(tenant):
    """An admin route, with a good tenant key: served by the REST API, unknown to the function URL."""
    keys, _ = tenant
    path = "/v1/license-types"
    call = Call("GET", path, path, keys.admin)

    rest, url = both(call)

    assert rest.status == 200, rest.body
    assert url.status == 404 and url.body["error"]["code"] == "NOT_FOUND"
