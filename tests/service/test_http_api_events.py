"""The LoadMaster's front door is an HTTP API (infra/template.py, ``DeviceApi``) that sends the
function payload format 1.0 events; the administration's REST API sends its proxy events. Both
shapes, built as AWS documents them ("Create AWS Lambda proxy integrations for HTTP APIs",
payload format 1.0; "Input format of a Lambda function for proxy integration" for REST), go
through the Lambda handler ``app.app`` itself for every route the HTTP API serves, on success
and on each refusal, and must be answered with the same status and body.

A call that changes state is made through both shapes in turn, each shape first once (on a
device of its own), so each shape does the first, changing call and the other answers the
retry of it: the contract makes every LoadMaster call safe to retry with the same answer.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from infra.template import DEVICE_API_STAGE, DEVICE_ROUTES, device_route_key
from tests.conftest import LM, first_type_id, lm

REST_STAGE = "v1"
API_ID = "a1b2c3d4e5"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # as the LoadMaster asks it
    route: str  # the route the gateway matched: the path with {parameters}
    headers: dict[str, str]
    body: str | None = None

    @property
    def path_parameters(self) -> dict[str, str] | None:
        names = [part[1:-1] for part in self.route.split("/") if part.startswith("{")]
        values = [
            value
            for part, value in zip(self.route.split("/"), self.path.split("/"), strict=True)
            if part.startswith("{")
        ]
        return dict(zip(names, values, strict=True)) or None


def _request_time() -> tuple[str, int]:
    now = time.time()
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), int(now * 1000)


def rest_event(call: Call) -> dict[str, Any]:
    """What the REST API (stage v1) sends for ``call``: headers as the client wrote them."""
    request_time, epoch = _request_time()
    return {
        "resource": call.route,
        "path": call.path,
        "httpMethod": call.method,
        "headers": call.headers,
        "multiValueHeaders": {k: [v] for k, v in call.headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": call.path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "extendedRequestId": str(uuid.uuid4()),
            "httpMethod": call.method,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "LoadMaster/7.2.47"},
            "path": f"/{REST_STAGE}{call.path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": request_time,
            "requestTimeEpoch": epoch,
            "resourceId": "abc123",
            "resourcePath": call.route,
            "stage": REST_STAGE,
        },
        "body": call.body,
        "isBase64Encoded": False,
    }


def http_api_event(call: Call, route: str | None = None) -> dict[str, Any]:
    """What an HTTP API sends for ``call`` in payload format 1.0: the route key's path as
    ``resource`` and ``resourcePath`` and the route key itself as ``resourceId`` (``$default`` for
    all three when no route matched), header names in lower case, the stage ``$default``, an
    ``authorizer`` with no claims. AWS's example shows the fields; the values of ``resource``,
    ``resourcePath`` and ``resourceId`` are those of events HTTP APIs delivered (``"resourceId":
    "POST /users/{userId}/inventories", "resourcePath": "/users/{userId}/inventories"`` for a
    route with a parameter; ``"$default"`` for each on the default route)."""
    request_time, epoch = _request_time()
    headers = {k.lower(): v for k, v in call.headers.items()}
    route = call.route if route is None else route
    route_key = route if route == "$default" else device_route_key(route)
    return {
        "version": "1.0",
        "resource": route,
        "path": call.path,
        "httpMethod": call.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "authorizer": {"claims": None, "scopes": None},
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "extendedRequestId": "Xk3Hc" + uuid.uuid4().hex[:8],
            "httpMethod": call.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAmr": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": "203.0.113.7",
                "user": None,
                "userAgent": "LoadMaster/7.2.47",
                "userArn": None,
            },
            "path": call.path,
            "protocol": "HTTP/1.1",
            "requestId": uuid.uuid4().hex[:16] + "=",
            "requestTime": request_time,
            "requestTimeEpoch": epoch,
            "resourceId": route_key,
            "resourcePath": route,
            "stage": DEVICE_API_STAGE,
        },
        "pathParameters": call.path_parameters if route == call.route else None,
        "stageVariables": None,
        "body": call.body,
        "isBase64Encoded": False,
    }


class LambdaContext:
    function_name = "licensing-prod-APIHandler"
    function_version = "7"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:licensing-prod-APIHandler:live"
    memory_limit_in_mb = 512

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def invoke(event: dict[str, Any]) -> Answer:
    """The function as Lambda runs it: its handler, the event, a context."""
    from app import app

    result = app(event, LambdaContext())
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    return Answer(result["statusCode"], json.loads(result["body"]) if result.get("body") else None, headers)


def both(call: Call, http_first: bool = False) -> tuple[Answer, Answer]:
    """``call`` through the REST API's shape and the HTTP API's, in that order or the other."""
    if http_first:
        http = invoke(http_api_event(call))
        return invoke(rest_event(call)), http
    rest = invoke(rest_event(call))
    return rest, invoke(http_api_event(call))


def assert_same(rest: Answer, http: Answer, status: int, code: str | None = None) -> None:
    assert (http.status, http.body) == (rest.status, rest.body)
    assert rest.status == status, rest.body
    if code is not None:
        assert rest.body["error"]["code"] == code, rest.body
    assert http.headers.get("content-type") == rest.headers.get("content-type") == "application/json"


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


def _device_call(verb: str, device_id: str, headers: dict[str, str], body: dict | None = None) -> Call:
    return Call(
        "POST",
        f"/v1/devices/{device_id}/{verb}",
        f"/v1/devices/{{device_id}}/{verb}",
        headers,
        json.dumps(body) if body is not None else None,
    )


def _check_in_body(mac: str) -> dict[str, Any]:
    return {"mac": mac, "ip": f"10.0.{int(mac[-2:], 16)}.5", "port": 443, "version": "7.2.47"}


@pytest.fixture
def tenant(api, trial_tenant):
    return trial_tenant, first_type_id(api, trial_tenant)


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


def test_a_body_the_http_api_sends_base64_encoded_is_read_alike(tenant):
    """An HTTP API passes a body as text only when its Content-Type says text (``text/*``,
    ``application/json``...); any other body, or one without a Content-Type, reaches the function
    base64-encoded with ``isBase64Encoded`` true. A LoadMaster that omits its Content-Type is
    answered as if it had sent it."""
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:bb:4a"
    device_id, headers = _device(keys, lic_type_id, mac)
    plain = _device_call("check-ins", device_id, headers, _check_in_body(mac))
    untyped = {k: v for k, v in headers.items() if k != "Content-Type"}
    event = http_api_event(Call(plain.method, plain.path, plain.route, untyped))
    event["body"], event["isBase64Encoded"] = base64.b64encode(plain.body.encode()).decode(), True

    rest, http = invoke(rest_event(plain)), invoke(event)

    assert_same(rest, http, 200)
    assert rest.body["status"] == "PENDING"


def test_license_types_alike_and_refused_alike(tenant):
    keys, _ = tenant
    path = "/v1/activation/license-types"
    good = Call("POST", path, path, {**JSON, "X-Activation-Key": keys.activation_key}, _lm_body())
    assert_same(*both(good), 200)
    assert both(good)[0].body["license_types"]

    assert_same(
        *both(Call("POST", path, path, {**JSON, "X-Activation-Key": "lk_act.wrong"}, _lm_body())), 401, "VERIFY_FAILED"
    )
    assert_same(*both(Call("POST", path, path, good.headers, '{"mac": ')), 400, "INVALID_INITIALIZATION")
    assert_same(*both(Call("POST", path, path, good.headers, _lm_body(sku="NOT-A-SKU"))), 404, "NO_LICENSE_FOR_SKU")


@pytest.mark.parametrize("http_first", [False, True], ids=["rest-first", "http-first"])
def test_an_activation_alike_through_both_shapes(tenant, http_first):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:bb:0b" if http_first else "00:50:56:aa:bb:0a"
    call = _activation(keys, lic_type_id, mac=mac, ip="10.0.9.9" if http_first else "10.0.9.8")

    rest, http = both(call, http_first=http_first)

    assert_same(rest, http, 201)
    # The second is the first one's replay (same Idempotency-Key): the first did the work.
    replayed = rest if http_first else http
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


@pytest.mark.parametrize("http_first", [False, True], ids=["rest-first", "http-first"])
@pytest.mark.parametrize("verb", ["confirm", "check-ins", "deactivate"])
def test_a_device_call_alike_through_both_shapes(tenant, verb, http_first):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:bb:2b" if http_first else "00:50:56:aa:bb:2a"
    device_id, headers = _device(keys, lic_type_id, mac)
    body = _check_in_body(mac) if verb == "check-ins" else None

    rest, http = both(_device_call(verb, device_id, headers, body), http_first=http_first)

    assert_same(rest, http, 200)
    assert rest.body["status"] == {"confirm": "ACTIVE", "check-ins": "PENDING", "deactivate": "DEACTIVATED"}[verb]
    if verb == "check-ins":
        assert rest.body["license"] and rest.body["device_token"]


@pytest.mark.parametrize("verb", ["confirm", "check-ins", "deactivate"])
def test_device_call_refusals_alike(tenant, verb):
    keys, lic_type_id = tenant
    mac = "00:50:56:aa:bb:3c"
    device_id, headers = _device(keys, lic_type_id, mac)
    other_id, other_headers = _device(keys, lic_type_id, "00:50:56:aa:bb:3d")
    body = _check_in_body(mac) if verb == "check-ins" else None

    # A token that is not one, and another device's token for this device.
    bad_token = {**JSON, "Authorization": "Device not-a-token"}
    assert_same(*both(_device_call(verb, device_id, bad_token, body)), 401, "VERIFY_FAILED")
    refused = both(_device_call(verb, device_id, other_headers, body))
    assert_same(*refused, refused[0].status)
    assert refused[0].status in (401, 403, 404), refused[0].body
    # A device the service does not know.
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
    assert other_id != device_id


@pytest.mark.parametrize("name", list(DEVICE_ROUTES))
def test_a_wrong_method_is_405_with_allow_alike(tenant, name):
    path = DEVICE_ROUTES[name].replace("{device_id}", "dev-1")
    method = "PUT"

    rest, http = both(Call(method, path, DEVICE_ROUTES[name], JSON))

    assert_same(rest, http, 405, "METHOD_NOT_ALLOWED")
    assert http.headers["allow"] == rest.headers["allow"]


@pytest.mark.parametrize("name", ["Jwks", "Health"])
def test_jwks_and_health_alike(tenant, name):
    path = DEVICE_ROUTES[name]

    rest, http = both(Call("GET", path, path, {}))

    assert (http.status, http.body) == (rest.status, rest.body) and rest.status == 200
    assert http.headers.get("cache-control") == rest.headers.get("cache-control")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nope"),
        ("POST", "/v1/tenants"),
        ("GET", "/"),
        ("GET", "/v1/devices/a/b/c/d"),
        ("DELETE", "/v1/license"),
    ],
)
def test_a_path_the_http_api_has_no_route_for_is_the_contracts_404(aws, method, path):
    """The HTTP API sends it to ``$default``, the function; the REST API answers it itself with
    its gateway response (infra/template.py, gateway_responses): the same status and body."""
    from infra.template import gateway_responses

    answer = invoke(http_api_event(Call(method, path, path, JSON), route="$default"))

    rest_gateway = gateway_responses()["RESOURCE_NOT_FOUND"]
    assert answer.status == int(rest_gateway["StatusCode"]) == 404
    assert answer.body == json.loads(rest_gateway["ResponseTemplates"]["application/json"])
    assert answer.headers["content-type"] == "application/json"
