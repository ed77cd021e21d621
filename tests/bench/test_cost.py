"""The cost model reads what it prices from the deployment template: the front door that serves the
check-in, the API function's memory, architecture and logging, the access log, the schedules."""

from __future__ import annotations

import copy

import pytest

from bench import cost

CHECK_IN_PATH = "/v1/devices/{device_id}/check-ins"
ACCESS_LOG = {"DestinationArn": "arn", "Format": '{"requestId":"$context.requestId","status":"$context.status"}'}


def _template(**api_function: object) -> dict:
    """A template like ``python -m infra.build``'s: the API function behind a REST API, a sweep."""
    paths = {
        CHECK_IN_PATH: {"post": {}},
        "/v1/activations": {"post": {}},
        "/v1/activation/license-types": {"post": {}},
        "/v1/devices/{device_id}/confirm": {"post": {}},
    }
    return {
        "Resources": {
            "APIHandler": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "app.app",
                    "Runtime": "python3.13",
                    "MemorySize": 512,
                    "Architectures": ["x86_64"],
                    "Tracing": "PassThrough",
                    **api_function,
                },
            },
            "DeactivateSilent": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "app.deactivate_silent",
                    "MemorySize": 512,
                    "Events": {"E": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}},
                },
            },
            "RestAPI": {
                "Type": "AWS::Serverless::Api",
                "Properties": {"DefinitionBody": {"paths": paths}, "AccessLogSetting": ACCESS_LOG},
            },
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {}},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
        }
    }


def _with_http_api(template: dict, *route_keys: str) -> dict:
    """``template`` plus an HTTP API (``AWS::ApiGatewayV2::Api``) with these routes."""
    t = copy.deepcopy(template)
    t["Resources"]["DeviceApi"] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "HTTP"}}
    t["Resources"]["DeviceApiStage"] = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {"ApiId": {"Ref": "DeviceApi"}, "AccessLogSettings": ACCESS_LOG},
    }
    for n, key in enumerate(route_keys):
        t["Resources"][f"DeviceApiRoute{n}"] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {"ApiId": {"Ref": "DeviceApi"}, "RouteKey": key, "Target": "integrations/x"},
        }
    return t


# What the other benchmarks measure, in the shapes they report it.
CHECK_IN = {
    "interval_s": 3600,
    "table_wru_per_check_in": 1.0,
    "index_writes_per_check_in": {"silent-due": 0.083},
    "log_bytes_per_check_in": 200.0,
    "response_bytes_per_check_in": 850.0,
    "stored_bytes": {"device_item": 480, "index_entries": {"silent-due": 190}, "claims": 200},
}
ROUTE = {"reads": 2, "writes": 1, "transact_items": 8, "other_aws_calls": []}
ENDPOINTS = {
    "routes": {r: ROUTE for r in cost.LIFECYCLE},
    "schedules": {"deactivate_silent": {**ROUTE, "transact_items": 6}},
}
FLEET = {"deactivate_silent_again": {"queries": 8}}
OVERHEAD = {
    "ms_per_check_in": {"handler": 6.0},
    "profiles": {"handler": {"shares": {"moto (stands in for DynamoDB's server)": 0.8}}},
}


def _model(template: dict) -> dict:
    return cost.run(CHECK_IN, ENDPOINTS, FLEET, OVERHEAD, template)["fleets"][100_000]


def test_the_template_read_as_deployed():
    deployed = cost.deployment(_template())
    assert deployed["front_doors"][cost.CHECK_IN] == "rest"
    assert deployed["api_function"] == {
        "logical_id": "APIHandler",
        "memory_mb": 512,
        "architecture": "x86_64",
        "tracing": "PassThrough",
        "runtime": "python3.13",
        "platform_log_bytes": 260,
        "log_class": "STANDARD",
        "every_s": None,
    }
    assert deployed["schedules"]["DeactivateSilent"]["every_s"] == 300
    assert deployed["access_log_bytes"]["rest"] == len('{"requestId":"","status":""}') + 36 + 3
    assert deployed["access_log_class"]["rest"] == "STANDARD"
    assert (deployed["alarms"], deployed["secrets"]) == (1, 1)


def _infrequent_access_logs(template: dict) -> dict:
    """``template`` with its access log in a group of the Infrequent Access class."""
    t = copy.deepcopy(template)
    t["Resources"]["AccessLogs"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupClass": "INFREQUENT_ACCESS", "RetentionInDays": 30},
    }
    t["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"] = {
        **ACCESS_LOG,
        "DestinationArn": {"Fn::GetAtt": ["AccessLogs", "Arn"]},
    }
    return t


def test_the_access_log_is_priced_in_its_groups_class_and_the_functions_logs_in_theirs():
    standard, infrequent = _model(_template()), _model(_infrequent_access_logs(_template()))
    assert (standard["access_log_class"], infrequent["access_log_class"]) == ("STANDARD", "INFREQUENT_ACCESS")
    access_gb = standard["api_requests"] * standard["log_bytes_per_check_in"]["access"] / 1e9
    saved = standard["dollars"]["CloudWatch Logs"] - infrequent["dollars"]["CloudWatch Logs"]
    assert saved == pytest.approx(access_gb * (0.50 - 0.25))


def test_the_custom_metrics_are_read_from_the_code():
    metrics = cost.custom_metrics()
    # A plain count, one per value of its dimension, one per report and key of SweepReport.metrics().
    assert metrics["CheckIns"] == 1
    assert metrics["AccountThrottled"] == 4  # register, sign-in, password-reset, password-reset-confirm
    assert metrics["deactivate_silent.Due"] == 1 and metrics["meter_usage.Backfilled"] == 1
    assert "deactivate_silent.Backfilled" not in metrics
    # A report's metrics are billed for the hours its schedule runs in; none without the schedule.
    assert (
        cost.metric_months(
            {"CheckIns": 2, "deactivate_silent.Due": 1, "expire_trials.Due": 1}, {"DeactivateSilent": {"every_s": 300}}
        )
        == 3
    )


def test_a_count_whose_metric_the_model_cannot_name_is_refused(tmp_path):
    (tmp_path / "m.py").write_text("def f(name):\n    count(name)\n")
    with pytest.raises(ValueError, match="cannot tell the metric"):
        cost.custom_metrics(tmp_path)
    (tmp_path / "m.py").write_text("def f():\n    count('X', kind=g())\n")
    with pytest.raises(ValueError, match="cannot tell the values of kind"):
        cost.custom_metrics(tmp_path)


def test_the_http_api_price_when_the_template_routes_the_check_in_through_one():
    rest = _model(_template())
    http = _model(_with_http_api(_template(), "ANY " + CHECK_IN_PATH))
    assert (rest["front_door"], http["front_door"]) == ("rest", "http")
    assert rest["dollars"]["API Gateway (REST API)"] == pytest.approx(rest["api_requests"] * 3.50 / 1e6)
    assert http["dollars"]["API Gateway (HTTP API)"] == pytest.approx(http["api_requests"] * 1.00 / 1e6)
    assert http["per_1000_device_months"] < rest["per_1000_device_months"]
    # Both doors are priced either way, whichever the template picks.
    assert http["per_1000_device_months_by_front_door"] == rest["per_1000_device_months_by_front_door"]


@pytest.mark.parametrize(
    ("route_key", "door"),
    [
        ("POST " + CHECK_IN_PATH, "http"),
        ("ANY /v1/devices/{id}/check-ins", "http"),
        ("ANY /{proxy+}", "http"),
        ("GET " + CHECK_IN_PATH, "rest"),
        ("ANY /v1/devices/{device_id}/confirm", "rest"),
        ("$default", "rest"),
    ],
)
def test_only_an_http_api_route_that_takes_the_check_in_moves_it(route_key, door):
    assert cost.deployment(_with_http_api(_template(), route_key))["front_doors"][cost.CHECK_IN] == door


def _with_function_url(template: dict) -> dict:
    """``template`` plus, under DeviceFrontDoor=FunctionUrl (default HttpApi), a function URL on
    the API function's live alias, as infra/template.py makes it."""
    t = copy.deepcopy(template)
    t["Parameters"] = {"DeviceFrontDoor": {"Type": "String", "Default": "HttpApi"}}
    t["Conditions"] = {"UseFunctionUrl": {"Fn::Equals": [{"Ref": "DeviceFrontDoor"}, "FunctionUrl"]}}
    t["Resources"]["DeviceUrl"] = {
        "Type": "AWS::Lambda::Url",
        "Condition": "UseFunctionUrl",
        "Properties": {"AuthType": "NONE", "TargetFunctionArn": {"Ref": "APIHandlerAliaslive"}},
    }
    t["Resources"]["DeviceUrlAlarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Condition": "UseFunctionUrl",
        "Properties": {},
    }
    return t


def test_the_function_url_is_priced_when_the_parameters_deploy_it():
    template = _with_function_url(_with_http_api(_template(), "ANY " + CHECK_IN_PATH))

    default, chosen = cost.deployment(template), cost.deployment(template, {"DeviceFrontDoor": "FunctionUrl"})

    assert default["front_doors"][cost.CHECK_IN] == "http"
    assert set(chosen["front_doors"].values()) == {"url"}  # the check-in and the lifecycle's routes
    assert (default["alarms"], chosen["alarms"]) == (1, 2)  # a resource whose condition fails is not deployed
    url = cost.run(CHECK_IN, ENDPOINTS, FLEET, OVERHEAD, template, {"DeviceFrontDoor": "FunctionUrl"})["fleets"][
        100_000
    ]
    http = _model(template)
    assert "Lambda function URL" in url["dollars"] and url["dollars"]["Lambda function URL"] == 0
    assert url["log_bytes_per_check_in"]["access"] == 0 < http["log_bytes_per_check_in"]["access"]
    assert url["per_1000_device_months"] < http["per_1000_device_months"]
    assert url["per_1000_device_months"] == url["per_1000_device_months_by_front_door"]["url"]


def test_a_parameter_the_template_does_not_have_is_refused():
    with pytest.raises(ValueError, match="no parameter DeviceFrontDor"):
        cost.deployment(_with_function_url(_template()), {"DeviceFrontDor": "FunctionUrl"})


def test_a_template_that_serves_no_check_in_is_refused():
    template = _template()
    del template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"][CHECK_IN_PATH]
    with pytest.raises(ValueError, match="check-ins"):
        _model(template)


def test_arm64_and_memory_price_the_duration_from_the_template():
    arm_template = _template(Architectures=["arm64"])
    small_template = _template(MemorySize=256, Architectures=["arm64"])
    for t in (arm_template, small_template):
        t["Resources"]["DeactivateSilent"]["Properties"]["Architectures"] = ["arm64"]
    x86, arm, small = _model(_template()), _model(arm_template), _model(small_template)
    assert arm["dollars"]["Lambda duration (arm64)"] == pytest.approx(
        x86["dollars"]["Lambda duration (x86_64)"] * 0.0000133334 / 0.0000166667
    )
    assert small["lambda_gb_seconds"] < arm["lambda_gb_seconds"]


def test_platform_lines_cost_nothing_when_the_template_raises_the_system_log_level():
    quiet = {"LogFormat": "JSON", "SystemLogLevel": "WARN", "ApplicationLogLevel": "INFO"}
    assert _model(_template())["log_bytes_per_check_in"]["platform"] == 260
    assert _model(_template(LoggingConfig=quiet))["log_bytes_per_check_in"]["platform"] == 0
    assert _model(_template(LoggingConfig={"LogFormat": "JSON"}))["log_bytes_per_check_in"]["platform"] == 650


def test_the_floor_is_one_write_unit_and_one_invocation_per_check_in():
    m = _model(_template())
    assert m["floor"] == pytest.approx(m["check_ins"] * (0.625 + 0.20) / 1e6)
    assert m["ratio_to_floor"] == pytest.approx(m["total"] / m["floor"])
    assert m["ratio_to_floor"] > 1


def test_both_architectures_are_priced_whichever_the_template_deploys():
    m = _model(_template())
    by = m["per_1000_device_months_by_architecture"]
    assert by["x86_64"] == pytest.approx(m["per_1000_device_months"])
    assert by["arm64"] < by["x86_64"]
