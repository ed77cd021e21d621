"""The deploy drill (tests/infra/drill.py) with ``DeviceFrontDoor=FunctionUrl``: the package's
stack creates on moto with the function URL on the API function, its public grants and its URL
as the LoadMasters' output; the API function, run from the package as Lambda runs it, answers a
function URL's events as it answers the REST API's."""

from __future__ import annotations

import json

import pytest

from tests.front_doors import Call, function_url_event
from tests.infra import drill as d


@pytest.fixture(scope="module")
def stack(packaged, tmp_path_factory):
    try:
        d._translator_python()
    except d.DrillUnavailable as e:
        pytest.skip(str(e))
    with d.moto_server() as endpoint:
        drill = d.Drill.prepare(endpoint, packaged, tmp_path_factory.mktemp("task"))
        created = drill.create(DeviceFrontDoor="FunctionUrl")
        try:
            yield created
        finally:
            created.close()


def test_loadmasters_are_given_the_function_url(stack):
    outputs, name = stack.outputs(), stack.function_ids()["APIHandler"]
    lambda_ = stack.ctx.client("lambda")
    url = lambda_.get_function_url_config(FunctionName=name)

    assert url["AuthType"] == "NONE"
    assert outputs["DeviceApiUrl"] == outputs["DeviceFunctionUrl"] == url["FunctionUrl"].rstrip("/")
    assert outputs["DeviceJwksUrl"] == f"{outputs['DeviceApiUrl']}/v1/.well-known/jwks.json"
    # The HTTP API stays, for LoadMasters not moved yet.
    assert outputs["DeviceExecuteApiUrl"].endswith(".amazonaws.com")


def test_the_live_alias_is_public_through_its_url_only(stack):
    name = stack.function_ids()["APIHandler"]
    policy = json.loads(stack.ctx.client("lambda").get_policy(FunctionName=name)["Policy"])
    public = [s for s in policy["Statement"] if s["Principal"] == "*"]

    assert {s["Action"] for s in public} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    for statement in public:
        assert statement["FunctionName"].endswith(f"{name}:live"), statement
        assert statement.get("FunctionUrlAuthType") == "NONE" or statement.get("InvokedViaFunctionUrl") is True


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/v1/health", "/v1/health"),
        ("GET", "/v1/.well-known/jwks.json", "/v1/.well-known/jwks.json"),
        ("PUT", "/v1/health", "/v1/health"),
        ("POST", "/v1/devices/dev-1/check-ins", "/v1/devices/{device_id}/check-ins"),
    ],
)
def test_the_packaged_function_answers_a_function_url_as_the_rest_api(stack, method, path, route):
    function = stack.function("APIHandler")
    params = {"device_id": "dev-1"} if "{device_id}" in route else {}
    headers = {"Content-Type": "application/json"}
    body = "{}" if method == "POST" else None

    rest = function.invoke(d.rest_event(method, path, route, params, "v1", headers, body, "drill"))
    url = function.invoke(function_url_event(Call(method, path, route, headers, body)))

    assert (url["statusCode"], json.loads(url["body"])) == (rest["statusCode"], json.loads(rest["body"]))
    assert "multiValueHeaders" not in url


def test_the_administration_is_not_served_through_the_function_url(stack):
    answer = stack.function("APIHandler").invoke(
        function_url_event(Call("GET", "/v1/license-types", "/v1/license-types", {}))
    )

    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["error"]["code"] == "NOT_FOUND"
