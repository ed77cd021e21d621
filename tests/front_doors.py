"""The events a front door sends the API function for one call, built as AWS documents them, and
the function run as Lambda runs it (``app.app``, the event, a context):

- the REST API's proxy event ("Input format of a Lambda function for proxy integration"), the
  administration's door, and the reference every other shape is compared with;
- an HTTP API's, payload format 1.0 ("Create AWS Lambda proxy integrations for HTTP APIs"), the
  LoadMasters' default door (infra/template.py, ``DeviceApi``);
- a Lambda function URL's, payload format 2.0 only ("Invoking Lambda function URLs"), their
  optional door (``DeviceFrontDoor=FunctionUrl``).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from infra.template import DEVICE_API_STAGE, device_route_key

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

    return _answer(app(event, LambdaContext()))


def _answer(result: dict[str, Any]) -> Answer:
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    return Answer(result["statusCode"], json.loads(result["body"]) if result.get("body") else None, headers)


URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
URL_DOMAIN = f"{URL_ID}.lambda-url.us-east-1.on.aws"
# A function URL's answer has these keys only: no multiValueHeaders.
URL_RESPONSE_KEYS = {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}


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
            "host": URL_DOMAIN,
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            "x-amzn-trace-id": "Root=1-" + uuid.uuid4().hex[:24],
            **{k.lower(): v for k, v in call.headers.items()},
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": URL_DOMAIN,
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
    """The function as a function URL runs it: its answer must be one a function URL can send."""
    from app import app

    result = app(event, LambdaContext())
    assert set(result) <= URL_RESPONSE_KEYS, result
    assert all(isinstance(v, str) for v in result["headers"].values()), result["headers"]
    return _answer(result)
