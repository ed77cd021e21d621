"""The generated deployment template (``python -m infra.build``), against the code it deploys.

The expected tables are derived from the PynamoDB model classes (keys, key attribute types,
indexes, projections, TTL), never written out here: a model that gains an index, a key or a TTL
the template lacks fails these tests. Roles are compared with the grant table that
tests/service/test_least_privilege.py checks against the calls the code makes. The package is
built once per session (``packaged``, tests/infra/conftest.py) and shared with the deploy drill.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pynamodb.indexes import GlobalSecondaryIndex, LocalSecondaryIndex

from chalicelib.store.models import ALL_MODELS
from infra import lint
from infra.permissions import GRANTS
from infra.template import (
    ACCESS_LOG_FORMAT,
    ACTIVATION_ROUTES,
    API_LOGGING,
    APP_TABLE,
    AUTH_FLOWS,
    CURSOR_SECRET_NAME,
    DEVICE_ACCESS_LOG_FORMAT,
    DEVICE_FRONT_DOORS,
    DEVICE_ROUTES,
    NO_ROUTE_LIMITS,
    PASSWORD_POLICY,
    SECRET_NAME,
    _resource_arn,
    device_route_key,
    gateway_responses,
    table_suffix,
)

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {
    "APIHandler": "api_handler",
    "ExpireTrials": "expire_trials",
    "BlockUnconfirmed": "block_unconfirmed",
    "DeactivateSilent": "deactivate_silent",
    "MeterUsage": "meter_usage",
}
# Issue 15's hourly purge of unconfirmed registrations, once the app has it (its grant in
# infra/permissions.py lands with it; test_every_grant_is_a_function_of_the_template ties the two).
if "purge_unconfirmed" in GRANTS:
    FUNCTIONS["PurgeUnconfirmed"] = "purge_unconfirmed"
SCHEDULED = set(FUNCTIONS) - {"APIHandler"}


@pytest.fixture(scope="module")
def template(packaged) -> dict[str, Any]:
    return json.loads((packaged / "sam.json").read_text())


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r.get("Type") == type_}


def _tables_by_name(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Template table name pattern (the Fn::Sub string) -> (logical id, resource)."""
    tables = {}
    for lid, resource in _resources(template, "AWS::DynamoDB::Table").items():
        name = resource["Properties"]["TableName"]
        assert isinstance(name, dict) and set(name) == {"Fn::Sub"}, f"{lid}: TableName must be an Fn::Sub"
        tables[name["Fn::Sub"]] = (lid, resource)
    return tables


def _key_schema(hash_attr, range_attr) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_attr.attr_name, "KeyType": "HASH"}]
    if range_attr is not None:
        schema.append({"AttributeName": range_attr.attr_name, "KeyType": "RANGE"})
    return schema


def _index_keys(index) -> tuple[Any, Any]:
    attrs = index.Meta.attributes.values()
    return next(a for a in attrs if a.is_hash_key), next((a for a in attrs if a.is_range_key), None)


def _projection(index) -> dict[str, Any]:
    projection = {"ProjectionType": index.Meta.projection.projection_type}
    if index.Meta.projection.non_key_attributes:
        projection["NonKeyAttributes"] = sorted(index.Meta.projection.non_key_attributes)
    return projection


def _expected_table(model) -> dict[str, Any]:
    """What the template must declare for ``model``, derived from the model class."""
    hash_attr, range_attr = model._hash_key_attribute(), model._range_key_attribute()
    key_attrs = [a for a in (hash_attr, range_attr) if a is not None]
    gsis, lsis = {}, {}
    for index in model._indexes.values():
        index_hash, index_range = _index_keys(index)
        key_attrs += [a for a in (index_hash, index_range) if a is not None]
        declared = {"KeySchema": _key_schema(index_hash, index_range), "Projection": _projection(index)}
        if isinstance(index, GlobalSecondaryIndex):
            gsis[index.Meta.index_name] = declared
        elif isinstance(index, LocalSecondaryIndex):
            lsis[index.Meta.index_name] = declared
        else:  # pragma: no cover - pynamodb has only these two
            raise AssertionError(f"unknown index kind {type(index)}")
    ttl = model._ttl_attribute()
    return {
        "KeySchema": _key_schema(hash_attr, range_attr),
        "AttributeDefinitions": {a.attr_name: a.attr_type for a in key_attrs},
        "GlobalSecondaryIndexes": gsis,
        "LocalSecondaryIndexes": lsis,
        "TTL": ttl.attr_name if ttl is not None else None,
    }


def _declared_indexes(props: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    declared = {}
    for index in props.get(kind, []):
        assert index["IndexName"] not in declared, f"duplicate index {index['IndexName']}"
        projection = dict(index["Projection"])
        if "NonKeyAttributes" in projection:
            projection["NonKeyAttributes"] = sorted(projection["NonKeyAttributes"])
        declared[index["IndexName"]] = {"KeySchema": index["KeySchema"], "Projection": projection}
    return declared


def _keys(schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


def test_expected_schema_agrees_with_what_create_table_sends():
    # The derivation above and pynamodb's own create_table schema describe the same tables.
    for model in ALL_MODELS:
        expected, schema = _expected_table(model), model._get_schema()
        assert expected["AttributeDefinitions"] == {
            d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]
        }
        assert _keys(expected["KeySchema"]) == _keys(schema["key_schema"])
        for kind, sent in (
            ("GlobalSecondaryIndexes", schema["global_secondary_indexes"]),
            ("LocalSecondaryIndexes", schema["local_secondary_indexes"]),
        ):
            assert {
                name: (_keys(i["KeySchema"]), i["Projection"]["ProjectionType"]) for name, i in expected[kind].items()
            } == {i["index_name"]: (_keys(i["key_schema"]), i["projection"]["ProjectionType"]) for i in sent}


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_model_has_its_table(template, model):
    tables = _tables_by_name(template)
    name = APP_TABLE % table_suffix(model)
    assert name in tables, f"{model.__name__}: no table named {name!r}"
    lid, resource = tables[name]
    props, expected = resource["Properties"], _expected_table(model)

    assert props["KeySchema"] == expected["KeySchema"], f"{lid}: key schema"
    assert _declared_indexes(props, "GlobalSecondaryIndexes") == expected["GlobalSecondaryIndexes"], f"{lid}: GSIs"
    assert _declared_indexes(props, "LocalSecondaryIndexes") == expected["LocalSecondaryIndexes"], f"{lid}: LSIs"
    declared_types = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    assert len(declared_types) == len(props["AttributeDefinitions"]), f"{lid}: duplicate attribute definitions"
    # DynamoDB rejects definitions of attributes no key uses, so the sets must be equal.
    assert declared_types == expected["AttributeDefinitions"], f"{lid}: attribute definitions"
    if expected["TTL"] is None:
        assert "TimeToLiveSpecification" not in props, f"{lid}: TTL on a table whose model has no TTLAttribute"
    else:
        assert props["TimeToLiveSpecification"] == {"AttributeName": expected["TTL"], "Enabled": True}, lid
    assert model.Meta.billing_mode == props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}


def test_no_table_without_a_model(template):
    assert set(_tables_by_name(template)) == {APP_TABLE % table_suffix(model) for model in ALL_MODELS}


def test_the_data_outlives_the_stack_but_not_a_failed_first_create(template):
    data = {**_resources(template, "AWS::DynamoDB::Table"), **_resources(template, "AWS::SecretsManager::Secret")}
    assert len(data) == len(ALL_MODELS) + 2
    for lid, resource in data.items():
        # Deleting the stack keeps them; a create that fails and rolls back removes them.
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate", lid
        assert resource["UpdateReplacePolicy"] == "Retain", lid
        # A new stack of the stage can take them over instead of creating them.
        assert resource["Condition"] == "CreateData", lid
    assert template["Conditions"]["CreateData"] == {"Fn::Equals": [{"Ref": "ExistingData"}, "false"]}
    for lid, resource in _resources(template, "AWS::DynamoDB::Table").items():
        assert resource["Properties"]["DeletionProtectionEnabled"] == {"Fn::If": ["Protect", True, False]}, lid
    secrets = _resources(template, "AWS::SecretsManager::Secret")
    assert {s["Properties"]["Name"]["Fn::Sub"] for s in secrets.values()} == {SECRET_NAME, CURSOR_SECRET_NAME}
    # The cursor key is random from the start; the signing key is put in by make deploy.
    assert secrets["CursorKeySecret"]["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32


def test_the_signing_key_secret_starts_as_a_placeholder_the_service_refuses(template):
    from chalicelib.security.signing import parse_secret

    secret = template["Resources"]["LeaseSigningKeySecret"]
    with pytest.raises((ValueError, KeyError)):
        parse_secret(secret["Properties"]["SecretString"])


def _resolve(value: Any, parameters: dict[str, str], conditions: dict[str, Any] | None = None) -> Any:
    """A template value with Ref, Fn::Sub and Fn::If resolved (what CloudFormation does);
    ``parameters`` also gives the physical id of each resource referred to."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text, names = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        names = {k: _resolve(v, parameters, conditions) for k, v in names.items()}
        return re.sub(r"\$\{([A-Za-z:]+)\}", lambda m: {**parameters, **names}[m.group(1)], text)
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        name, if_true, if_false = value["Fn::If"]
        return _resolve(
            if_true if _holds(conditions[name], parameters, conditions) else if_false, parameters, conditions
        )
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return parameters[".".join(value["Fn::GetAtt"])]
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolve(part, parameters, conditions) for part in parts)
    if isinstance(value, dict) and set(value) == {"Fn::Split"}:
        separator, text = value["Fn::Split"]
        return _resolve(text, parameters, conditions).split(separator)
    if isinstance(value, dict) and set(value) == {"Fn::Select"}:
        index, items = value["Fn::Select"]
        return _resolve(items, parameters, conditions)[int(index)]
    return value


def _holds(expression: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> bool:
    """A condition (or a rule's assertion) evaluated as CloudFormation does."""
    ((function, args),) = expression.items()
    if function == "Condition":
        return _holds(conditions[args], parameters, conditions)
    if function == "Fn::Equals":
        return _resolve(args[0], parameters, conditions) == _resolve(args[1], parameters, conditions)
    if function == "Fn::Not":
        return not _holds(args[0], parameters, conditions)
    if function == "Fn::And":
        return all(_holds(a, parameters, conditions) for a in args)
    if function == "Fn::Or":
        return any(_holds(a, parameters, conditions) for a in args)
    raise AssertionError(f"the test cannot evaluate {function}")


@pytest.mark.parametrize("stage", ["prod", "staging"])
def test_the_stage_parameter_reaches_the_code(template, stage, monkeypatch):
    from chalicelib.settings import Settings

    parameters = {
        "Stage": stage,
        "OperatorKeySha256": "ab" * 32,
        "SweepBatch": "2000",
        "ExistingUserPoolId": "",
        "UserPool": "us-east-1_Stack",
        "UserPoolClient": "stackclient",
    }
    tables = {
        _resolve(r["Properties"]["TableName"], parameters)
        for r in _resources(template, "AWS::DynamoDB::Table").values()
    }
    secret = template["Resources"]["LeaseSigningKeySecret"]
    cursor_secret = template["Resources"]["CursorKeySecret"]
    for lid in FUNCTIONS:
        variables = template["Resources"][lid]["Properties"]["Environment"]["Variables"]
        for name, value in variables.items():  # the environment the stack gives the function
            monkeypatch.setenv(name, str(_resolve(value, parameters, template["Conditions"])))
        settings = Settings.from_environ()

        assert settings.stage == stage, lid
        assert {settings.table_prefix + table_suffix(m) for m in ALL_MODELS} == tables, lid
        assert settings.signing_key_secret_id == _resolve(secret["Properties"]["Name"], parameters), lid
        assert settings.cursor_key_secret_id == _resolve(cursor_secret["Properties"]["Name"], parameters), lid
        assert settings.signing_key_autocreate is False, lid
        assert settings.metrics_namespace == f"MeteredLicensing/{stage}", lid
        assert settings.version == template["Outputs"]["Version"]["Value"], lid
        assert ("OPERATOR_KEY_SHA256" in variables) == (lid == "APIHandler"), lid
        # The stack's own user pool and client (the pool adopted by id: test_an_adopted_user_pool...).
        assert _resolve(variables["COGNITO_USER_POOL_ID"], parameters, template["Conditions"]) == "us-east-1_Stack"
        assert _resolve(variables["COGNITO_CLIENT_ID"], parameters, template["Conditions"]) == "stackclient"
        for field, expected in (("cognito_user_pool_id", "us-east-1_Stack"), ("cognito_client_id", "stackclient")):
            if field in Settings.model_fields:  # the service's settings read them (issue 15's backend)
                assert getattr(settings, field) == expected, lid
        # Nothing stage-dependent is written into the package.
        assert not any("prod" in json.dumps(v) for v in variables.values()), lid


def test_the_version_is_the_commit_packaged(template):
    version = template["Outputs"]["Version"]["Value"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert version.removesuffix("+dirty") == commit


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = role["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def test_each_function_has_a_role_of_its_own_holding_its_grant(template):
    roles = {}
    for lid, name in FUNCTIONS.items():
        role_id = template["Resources"][lid]["Properties"]["Role"]["Fn::GetAtt"][0]
        roles[lid] = role_id
        statements = {s["Sid"]: s for s in _statements(template["Resources"][role_id])}
        granted = {
            (s["Sid"], tuple(s["Action"])) for s in statements.values() if s["Sid"] not in ("OwnLogGroup", "FailedRuns")
        }

        assert len(granted) == len(GRANTS[name]), lid
        assert {a for _, actions in granted for a in actions} == {a for v in GRANTS[name].values() for a in v}, lid
        assert statements["OwnLogGroup"]["Resource"] == {"Fn::GetAtt": [f"{lid}LogGroup", "Arn"]}, lid
        assert ("FailedRuns" in statements) == (lid in SCHEDULED), lid
        for statement in statements.values():
            assert "*" not in json.dumps(statement["Action"]), lid
            assert statement["Resource"] != "*", lid
    assert len(set(roles.values())) == len(FUNCTIONS)
    # Only the API reads the signing key; no function may create or change a secret.
    for lid, role_id in roles.items():
        actions = {a for s in _statements(template["Resources"][role_id]) for a in s["Action"]}
        assert ("secretsmanager:GetSecretValue" in actions) == (lid == "APIHandler"), lid
        assert not {a for a in actions if a.startswith("secretsmanager:") and a != "secretsmanager:GetSecretValue"}


def test_logs_are_kept_for_the_retention_the_stack_says(template):
    for lid in FUNCTIONS:
        props = template["Resources"][lid]["Properties"]
        group = template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup", lid
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, lid
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_the_api_access_log_says_who_asked_what_and_how_it_went_never_a_secret(template):
    setting = template["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])
    assert setting["Format"] == ACCESS_LOG_FORMAT
    assert {"requestId", "route", "status", "latencyMs"} <= set(fields)
    values = " ".join(fields.values())
    for secret_bearing in ("header", "authorization", "Authorization", "$input", "querystring", "$context.path"):
        assert secret_bearing not in values
    retention = template["Resources"]["ApiAccessLogGroup"]["Properties"]["RetentionInDays"]
    assert retention == {"Ref": "LogRetentionDays"}


def _alarms(template):
    return _resources(template, "AWS::CloudWatch::Alarm")


def _dimension_values(alarm: dict[str, Any]) -> list[Any]:
    props = alarm["Properties"]
    dimensions = list(props.get("Dimensions", []))
    for query in props.get("Metrics", []):
        if "MetricStat" in query:
            dimensions += query["MetricStat"]["Metric"].get("Dimensions", [])
    # Operation and Stage qualify a table's or the API's metric; service is the dimension of the
    # custom metrics, whose namespace is the stage's own.
    return [d["Value"] for d in dimensions if d["Name"] not in ("Operation", "Stage", "service")]


def test_every_alarm_watches_this_stack_only(template):
    for lid, alarm in _alarms(template).items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopicArn"}], lid
        assert props["AlarmName"] == {"Fn::Sub": f"licensing-${{Stage}}-{lid}"}, lid
        namespace = props.get("Namespace")
        # A dimension is a resource of this stack or a name made from its Stage, never a literal
        # that another stack shares; custom metrics are in the stage's own namespace.
        for value in _dimension_values(alarm):
            assert isinstance(value, dict), f"{lid}: dimension {value!r} is shared by every stack"
            if "Fn::Sub" in value:
                assert "${Stage}" in value["Fn::Sub"], lid
        if isinstance(namespace, dict):
            assert namespace == {"Fn::Sub": "MeteredLicensing/${Stage}"}, lid


def test_the_alarms_cover_every_function_table_queue_and_the_api(template):
    described = {a["Properties"]["AlarmDescription"] for a in _alarms(template).values()}
    for lid in FUNCTIONS:
        assert {f"{lid} failed", f"{lid} was throttled", f"{lid} ran for over 80% of its timeout"} <= described
        assert (f"{lid} did not run" in described) is (lid in SCHEDULED), lid
        assert (f"{lid} has failed runs waiting in its queue" in described) is (lid in SCHEDULED), lid
    for lid, _ in _tables_by_name(template).values():
        table_alarms = {f"{lid}: ReadThrottleEvents", f"{lid}: WriteThrottleEvents", f"{lid}: DynamoDB system errors"}
        assert table_alarms <= described, lid
    assert {"The API answered 5xx", "The API's p99 latency is over 1 s"} <= described
    backlog = [a for a in _alarms(template).values() if "backlog" in a["Properties"]["AlarmDescription"]]
    assert {a["Properties"]["MetricName"] for a in backlog} == {"block_unconfirmed.Due", "deactivate_silent.Due"}
    for alarm in backlog:
        assert alarm["Properties"]["Threshold"] == {"Ref": "SweepBatch"}


def test_near_timeout_is_measured_against_each_functions_timeout(template):
    for lid in FUNCTIONS:
        timeout_ms = template["Resources"][lid]["Properties"]["Timeout"] * 1000
        alarm = _alarms(template)[f"{lid}NearTimeoutAlarm"]["Properties"]
        assert (alarm["MetricName"], alarm["Statistic"]) == ("Duration", "Maximum")
        assert alarm["Threshold"] == pytest.approx(0.8 * timeout_ms)


def test_a_failed_scheduled_run_is_kept_for_replay(template):
    for lid in SCHEDULED:
        props = template["Resources"][lid]["Properties"]
        queue = {"Fn::GetAtt": [f"{lid}FailuresQueue", "Arn"]}
        assert props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": queue}
        for event in props["Events"].values():
            assert event["Properties"]["DeadLetterConfig"] == {"Arn": queue}
        assert template["Resources"][f"{lid}FailuresQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    policy = template["Resources"]["ScheduleFailuresQueuePolicy"]["Properties"]
    assert {s["Principal"]["Service"] for s in policy["PolicyDocument"]["Statement"]} == {"events.amazonaws.com"}


def test_every_function_is_published_behind_a_live_alias_and_the_api_rolls_out_gradually(template):
    for lid in FUNCTIONS:
        assert template["Resources"][lid]["Properties"]["AutoPublishAlias"] == "live", lid
    preference = template["Resources"]["APIHandler"]["Properties"]["DeploymentPreference"]
    assert preference["Type"] == {"Ref": "DeploymentType"}
    assert {"Ref": "Api5xxAlarm"} in preference["Alarms"] and {"Ref": "APIHandlerErrorsAlarm"} in preference["Alarms"]
    body = json.dumps(template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"])
    assert "${APIHandler.Arn}" not in body and "${APIHandlerAliaslive}" in body
    permission = template["Resources"]["APIHandlerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "APIHandlerAliaslive"}


def test_a_custom_domain_keeps_the_urls_loadmasters_use(template):
    resources = template["Resources"]
    assert resources["ApiDomain"]["Condition"] == "HasDomain"
    assert resources["ApiDomain"]["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert resources["ApiDomainMapping"]["Properties"]["RestApiId"] == {"Ref": "RestAPI"}
    assert "BasePath" not in resources["ApiDomainMapping"]["Properties"]  # the stage at the root
    assert resources["ApiDomainRecord"]["Condition"] == "HasHostedZone"
    outputs = template["Outputs"]
    assert outputs["ApiUrl"]["Value"]["Fn::If"][0] == "HasDomain"
    assert outputs["ApiUrl"]["Value"]["Fn::If"][1] == {"Fn::Sub": "https://${DomainName}"}
    assert outputs["JwksUrl"]["Value"] == {"Fn::Join": ["", [outputs["ApiUrl"]["Value"], "/v1/.well-known/jwks.json"]]}


def test_the_api_is_throttled_and_named_per_stage(template):
    props = template["Resources"]["RestAPI"]["Properties"]
    (setting,) = props["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiBurstLimit"}
    assert props["Name"] == {"Fn::Sub": "licensing-${Stage}"}


# What API Gateway answers by itself, before the function, must be in the contract's body too.
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": "NOT_FOUND",
    "RESOURCE_NOT_FOUND": "NOT_FOUND",
    "THROTTLED": "RATE_LIMITED",
    "QUOTA_EXCEEDED": "RATE_LIMITED",
    "INTEGRATION_TIMEOUT": "UNAVAILABLE",
    "DEFAULT_4XX": "VALIDATION_ERROR",
    "DEFAULT_5XX": "INTERNAL",
}


def test_the_gateways_own_answers_carry_the_contracts_error_body(template):
    from chalicelib.api.errors import STATUS
    from chalicelib.domain.errors import MESSAGES, Code

    responses = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert responses == gateway_responses()
    assert {
        kind: json.loads(responses[kind]["ResponseTemplates"]["application/json"])["error"]["code"]
        for kind in GATEWAY_RESPONSES
    } == GATEWAY_RESPONSES
    for kind, response in responses.items():
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}, kind
        code = Code(body["error"]["code"])
        assert response["StatusCode"] == str(STATUS[code]), kind
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Content-Type"] == "'application/json'", kind
        assert ("Retry-After" in headers) == (STATUS[code] in (429, 503)), kind
        if code is Code.VALIDATION_ERROR:
            assert body["error"]["detail"]["fields"], kind
        else:
            assert body["error"]["message"] == MESSAGES[code] and body["error"]["detail"] == {}, kind


def test_an_unknown_path_gets_the_same_answer_deployed_and_on_the_local_stack(template):
    from local.stack import not_found_response

    deployed = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]["MISSING_AUTHENTICATION_TOKEN"]
    local = not_found_response()
    assert json.loads(deployed["ResponseTemplates"]["application/json"]) == json.loads(local["body"])
    assert int(deployed["StatusCode"]) == local["statusCode"] == 404


# --- the LoadMasters' HTTP API (issue 14) ---------------------------------------------------------


def test_the_loadmasters_routes_reach_the_live_alias_through_an_http_api_in_payload_1_0(template):
    resources = template["Resources"]
    assert resources["DeviceApi"]["Type"] == "AWS::ApiGatewayV2::Api"
    assert resources["DeviceApi"]["Properties"]["ProtocolType"] == "HTTP"
    assert resources["DeviceApi"]["Properties"]["Name"] == {"Fn::Sub": "licensing-${Stage}-devices"}
    integration = resources["DeviceApiIntegration"]["Properties"]
    # The format Chalice's handler reads (tests/service/test_front_door_events.py), to the alias the
    # REST API calls, so a gradual deployment moves both front doors at once.
    assert (integration["IntegrationType"], integration["PayloadFormatVersion"]) == ("AWS_PROXY", "1.0")
    assert integration["IntegrationUri"] == {"Ref": "APIHandlerAliaslive"}
    assert "${APIHandlerAliaslive}" in json.dumps(resources["RestAPI"]["Properties"]["DefinitionBody"])
    routes = _resources(template, "AWS::ApiGatewayV2::Route")
    target = {"Fn::Join": ["/", ["integrations", {"Ref": "DeviceApiIntegration"}]]}
    assert {r["Properties"]["RouteKey"] for r in routes.values()} == (
        {device_route_key(path) for path in DEVICE_ROUTES.values()} | {"$default"}
    )
    for lid, route in routes.items():
        assert route["Properties"]["Target"] == target and route["Properties"]["ApiId"] == {"Ref": "DeviceApi"}, lid
    permission = resources["DeviceApiInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "APIHandlerAliaslive"}
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert "${DeviceApi}/*" in permission["SourceArn"]["Fn::Sub"]


def test_the_http_api_throttles_each_route_and_unknown_paths_hardest(template):
    stage = template["Resources"]["DeviceApiStage"]
    props = stage["Properties"]
    assert (props["StageName"], props["AutoDeploy"]) == ("$default", True)
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "DeviceApiRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "DeviceApiBurstLimit"},
    }
    activation = {
        "ThrottlingRateLimit": {"Ref": "ActivationRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ActivationBurstLimit"},
    }
    assert props["RouteSettings"] == {
        **{device_route_key(DEVICE_ROUTES[n]): activation for n in ACTIVATION_ROUTES},
        "$default": NO_ROUTE_LIMITS,
    }
    # Route settings name routes that must exist first.
    assert set(stage["DependsOn"]) == set(_resources(template, "AWS::ApiGatewayV2::Route"))
    parameters = template["Parameters"]
    assert parameters["ActivationRateLimit"]["Default"] < parameters["DeviceApiRateLimit"]["Default"]
    assert NO_ROUTE_LIMITS["ThrottlingRateLimit"] < parameters["ActivationRateLimit"]["Default"]


def test_the_http_api_access_log_is_json_never_a_secret(template):
    setting = template["Resources"]["DeviceApiStage"]["Properties"]["AccessLogSettings"]
    assert setting == {
        "DestinationArn": {"Fn::GetAtt": ["DeviceApiAccessLogGroup", "Arn"]},
        "Format": DEVICE_ACCESS_LOG_FORMAT,
    }
    fields = json.loads(setting["Format"])
    # A line per check-in, cut to what finds a request and says how it went (named as the REST
    # API's fields are), and why the HTTP API could not reach the function.
    assert fields == {
        "requestId": "$context.requestId",
        "time": "$context.requestTimeEpoch",
        "ip": "$context.identity.sourceIp",
        "route": "$context.routeKey",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
    }
    assert set(fields) - {"integrationError"} <= set(json.loads(ACCESS_LOG_FORMAT))
    values = " ".join(fields.values())
    for secret_bearing in ("header", "authorization", "Authorization", "$input", "querystring", "$context.path"):
        assert secret_bearing not in values
    group = template["Resources"]["DeviceApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["LogGroupName"] == {"Fn::Sub": "/licensing/${Stage}/device-api-access-ia"}


def test_only_the_access_logs_are_infrequent_access_and_nothing_reads_them_but_a_query(template):
    """Infrequent Access halves the ingestion price but has no metric filter, subscription or EMF
    extraction: the functions' groups carry the EMF metrics and stay STANDARD."""
    groups = {
        lid: r["Properties"].get("LogGroupClass", "STANDARD")
        for lid, r in _resources(template, "AWS::Logs::LogGroup").items()
    }
    infrequent = {lid for lid, log_class in groups.items() if log_class == "INFREQUENT_ACCESS"}
    assert infrequent == {"ApiAccessLogGroup", "DeviceApiAccessLogGroup"}
    # A class is fixed at creation: a changed one replaces the group, which CloudFormation refuses
    # for a named group, so those named before keep their name and no class, the new ones a new name.
    for lid, r in _resources(template, "AWS::Logs::LogGroup").items():
        assert ("LogGroupClass" in r["Properties"]) == (lid in infrequent), lid
        assert r["Properties"]["LogGroupName"]["Fn::Sub"].endswith("-ia") == (lid in infrequent), lid
    for lid in FUNCTIONS:
        assert groups[template["Resources"][lid]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]] == "STANDARD"
    readers = {"AWS::Logs::MetricFilter", "AWS::Logs::SubscriptionFilter", "AWS::Logs::LogAnomalyDetector"}
    assert not [lid for lid, r in template["Resources"].items() if r["Type"] in readers]


def test_the_http_api_has_the_rest_apis_alarms_and_rolls_a_deployment_back(template):
    alarms = _alarms(template)
    dimensions = [{"Name": "ApiId", "Value": {"Ref": "DeviceApi"}}, {"Name": "Stage", "Value": "$default"}]
    failed, slow = alarms["DeviceApi5xxAlarm"]["Properties"], alarms["DeviceApiLatencyAlarm"]["Properties"]
    # An HTTP API's metric is 5xx, not the REST API's 5XXError.
    assert (failed["MetricName"], failed["Statistic"], failed["Dimensions"]) == ("5xx", "Sum", dimensions)
    assert (slow["MetricName"], slow["ExtendedStatistic"], slow["Dimensions"]) == ("Latency", "p99", dimensions)
    assert slow["Threshold"] == alarms["ApiLatencyAlarm"]["Properties"]["Threshold"]
    preference = template["Resources"]["APIHandler"]["Properties"]["DeploymentPreference"]
    assert {"Ref": "DeviceApi5xxAlarm"} in preference["Alarms"]
    assert {"Ref": "DeviceApiLatencyAlarm"} in preference["Alarms"]


@pytest.mark.parametrize("device_domain", ["", "devices.licensing.example.com"])
def test_loadmasters_get_their_own_url_with_or_without_a_domain(template, device_domain):
    resources, outputs, conditions = template["Resources"], template["Outputs"], template["Conditions"]
    parameters = {
        "DeviceDomainName": device_domain,
        "DomainName": "licensing.example.com",
        "HostedZoneId": "Z1",
        "DeviceFrontDoor": "HttpApi",
        "DeviceApi": "dev123",
        "RestAPI": "rest123",
        "AWS::Region": "eu-west-1",
        "AWS::URLSuffix": "amazonaws.com",
    }
    has_domain = _holds({"Condition": "HasDeviceDomain"}, parameters, conditions)
    assert has_domain is bool(device_domain)
    for lid in ("DeviceApiDomain", "DeviceApiMapping"):
        assert resources[lid]["Condition"] == "HasDeviceDomain", lid
    assert resources["DeviceApiDomainRecord"]["Condition"] == "HasDeviceHostedZone"
    mapping = resources["DeviceApiMapping"]
    assert mapping["Type"] == "AWS::ApiGatewayV2::ApiMapping"
    # At the domain's root: the contract's paths, as the REST API's mapping keeps them.
    assert "ApiMappingKey" not in mapping["Properties"]
    assert mapping["Properties"]["ApiId"] == {"Ref": "DeviceApi"}
    assert resources["DeviceApiDomain"]["Properties"]["SecurityPolicy"] == "TLS_1_2"
    url = _resolve(outputs["DeviceApiUrl"]["Value"], parameters, conditions)
    assert url == (
        f"https://{device_domain}" if device_domain else "https://dev123.execute-api.eu-west-1.amazonaws.com"
    )
    assert outputs["DeviceJwksUrl"]["Value"] == {
        "Fn::Join": ["", [outputs["DeviceApiUrl"]["Value"], "/v1/.well-known/jwks.json"]]
    }
    assert outputs["DeviceRegionalDomainName"]["Condition"] == "HasDeviceDomain"


@pytest.mark.parametrize("front_door", DEVICE_FRONT_DOORS)
def test_a_function_url_on_the_live_alias_is_the_loadmasters_front_door_when_chosen(template, front_door):
    """DeviceFrontDoor=FunctionUrl adds a public function URL on the API function's live alias (as
    SAM makes one from FunctionUrlConfig) and makes it the URL LoadMasters are given; the HTTP
    API stays either way (it costs nothing unused, and LoadMasters move over at their pace)."""
    resources, outputs, conditions = template["Resources"], template["Outputs"], template["Conditions"]
    parameter = template["Parameters"]["DeviceFrontDoor"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("HttpApi", ["HttpApi", "FunctionUrl"])
    parameters = {
        "DeviceFrontDoor": front_door,
        "DeviceDomainName": "",
        "DeviceApi": "dev123",
        "AWS::Region": "eu-west-1",
        "AWS::URLSuffix": "amazonaws.com",
        "DeviceUrl.FunctionUrl": "https://abc123.lambda-url.eu-west-1.on.aws/",
    }
    chosen = _holds({"Condition": "UseFunctionUrl"}, parameters, conditions)
    assert chosen is (front_door == "FunctionUrl")

    alias = {"Ref": "APIHandlerAliaslive"}
    url, public, invoke = (
        resources[lid] for lid in ("DeviceUrl", "DeviceUrlPublicPermission", "DeviceUrlInvokePermission")
    )
    assert {url["Condition"], public["Condition"], invoke["Condition"]} == {"UseFunctionUrl"}
    assert url["Type"] == "AWS::Lambda::Url"
    assert url["Properties"] == {"AuthType": "NONE", "TargetFunctionArn": alias}
    assert public["Properties"] == {
        "Action": "lambda:InvokeFunctionUrl",
        "FunctionName": alias,
        "Principal": "*",
        "FunctionUrlAuthType": "NONE",
    }
    # Function URLs made since October 2025 also need InvokeFunction, here only through the URL.
    assert invoke["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": alias,
        "Principal": "*",
        "InvokedViaFunctionUrl": True,
    }
    assert all(
        "Condition" not in resources[lid]
        for lid in resources
        if lid.startswith("DeviceApi") and lid not in ("DeviceApiDomain", "DeviceApiMapping", "DeviceApiDomainRecord")
    )

    device_url = _resolve(outputs["DeviceApiUrl"]["Value"], parameters, conditions)
    assert device_url == (
        "https://abc123.lambda-url.eu-west-1.on.aws" if chosen else "https://dev123.execute-api.eu-west-1.amazonaws.com"
    )
    assert _resolve(outputs["DeviceJwksUrl"]["Value"], parameters, conditions) == (
        f"{device_url}/v1/.well-known/jwks.json"
    )
    assert outputs["DeviceFunctionUrl"]["Condition"] == "UseFunctionUrl"
    assert _resolve(outputs["DeviceFunctionUrl"]["Value"], parameters, conditions) == (
        "https://abc123.lambda-url.eu-west-1.on.aws"
    )


def test_the_function_url_has_the_http_apis_alarms_and_rolls_a_deployment_back(template):
    alarms = _alarms(template)
    dimensions = [
        {"Name": "FunctionName", "Value": {"Ref": "APIHandler"}},
        {"Name": "Resource", "Value": {"Fn::Join": [":", [{"Ref": "APIHandler"}, "live"]]}},
    ]
    failed, slow = alarms["DeviceUrl5xxAlarm"]["Properties"], alarms["DeviceUrlLatencyAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"], failed["Statistic"], failed["Dimensions"]) == (
        "AWS/Lambda",
        "Url5xxCount",
        "Sum",
        dimensions,
    )
    assert (slow["MetricName"], slow["ExtendedStatistic"], slow["Dimensions"]) == (
        "UrlRequestLatency",
        "p99",
        dimensions,
    )
    # In every stack (the rollback's list cannot name a resource a condition left out): without a
    # function URL there is no data, which does not breach.
    assert "Condition" not in alarms["DeviceUrl5xxAlarm"] and failed["TreatMissingData"] == "notBreaching"
    preference = template["Resources"]["APIHandler"]["Properties"]["DeploymentPreference"]
    assert {"Ref": "DeviceUrl5xxAlarm"} in preference["Alarms"]
    assert {"Ref": "DeviceUrlLatencyAlarm"} in preference["Alarms"]


def test_the_api_function_drops_lambdas_own_lines_per_request(template):
    for lid in FUNCTIONS:
        config = template["Resources"][lid]["Properties"]["LoggingConfig"]
        if lid in SCHEDULED:  # a run's REPORT line (duration, memory) stays: a few a hour
            assert "SystemLogLevel" not in config, lid
        else:
            # INFO for the application: the EMF lines have no level, which Lambda reads as INFO.
            assert (
                {k: config[k] for k in API_LOGGING}
                == API_LOGGING
                == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"}
            )


# --- accounts (issue 15) -------------------------------------------------------------------------


def test_the_user_pool_signs_people_in_by_an_email_verified_with_a_code(template):
    pool = template["Resources"]["UserPool"]
    props = pool["Properties"]
    assert pool["Type"] == "AWS::Cognito::UserPool"
    assert props["UsernameAttributes"] == ["email"] and props["UsernameConfiguration"] == {"CaseSensitive": False}
    # Cognito mails a code at registration; the account stays UNCONFIRMED until it is given back.
    assert props["AutoVerifiedAttributes"] == ["email"]
    message = props["VerificationMessageTemplate"]
    assert message["DefaultEmailOption"] == "CONFIRM_WITH_CODE" and "{####}" in message["EmailMessage"]
    # A new email takes effect only once its code is confirmed; resets go to the verified email.
    assert props["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert props["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}
    assert props["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": False}  # people register themselves
    email = next(a for a in props["Schema"] if a["Name"] == "email")
    assert email["Required"] is True and email["Mutable"] is True


def test_the_user_pool_has_a_password_policy(template):
    policy = template["Resources"]["UserPool"]["Properties"]["Policies"]["PasswordPolicy"]
    assert policy == PASSWORD_POLICY
    assert policy["MinimumLength"] >= 12
    assert policy["RequireLowercase"] and policy["RequireUppercase"] and policy["RequireNumbers"]


def test_the_accounts_outlive_the_stack_but_not_a_failed_first_create(template):
    pool = template["Resources"]["UserPool"]
    assert pool["DeletionPolicy"] == "RetainExceptOnCreate"
    assert pool["UpdateReplacePolicy"] == "Retain"
    assert pool["Properties"]["DeletionProtection"] == {"Fn::If": ["Protect", "ACTIVE", "INACTIVE"]}
    # Only the pool is data: the client is the stack's and goes with it.
    client = template["Resources"]["UserPoolClient"]
    assert client["DeletionPolicy"] == "Delete" and "Condition" not in client
    assert pool["Condition"] == "CreateUserPool"


@pytest.mark.parametrize(
    ("existing_data", "pool_id", "allowed", "creates_pool"),
    [
        ("false", "", True, True),
        ("true", "eu-west-1_Kept123", True, False),
        # Taking over the tables without the accounts would start an empty pool beside the kept one.
        ("true", "", False, None),
        # Adopting a pool while creating fresh tables would join accounts to tenants they never had.
        ("false", "eu-west-1_Kept123", False, None),
    ],
)
def test_an_adopted_user_pool_comes_with_the_rest_of_the_data_and_only_then(
    template, existing_data, pool_id, allowed, creates_pool
):
    parameters = {
        "ExistingData": existing_data,
        "ExistingUserPoolId": pool_id,
        "UserPool": "us-east-1_New",
        "UserPoolClient": "newclient",
    }
    conditions = template["Conditions"]
    # CloudFormation refuses the parameters before creating anything when a rule's assertion fails.
    verdicts = [
        _holds(assertion["Assert"], parameters, conditions)
        for rule in template["Rules"].values()
        if _holds(rule["RuleCondition"], parameters, conditions)
        for assertion in rule["Assertions"]
    ]
    assert all(verdicts) is allowed
    if not allowed:
        return
    assert _holds({"Condition": template["Resources"]["UserPool"]["Condition"]}, parameters, conditions) is creates_pool
    client = template["Resources"]["UserPoolClient"]["Properties"]
    in_pool = _resolve(client["UserPoolId"], parameters, conditions)
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert in_pool == _resolve(variables["COGNITO_USER_POOL_ID"], parameters, conditions)
    assert in_pool == ("us-east-1_New" if creates_pool else pool_id)
    assert _resolve(template["Outputs"]["UserPoolId"]["Value"], parameters, conditions) == in_pool


def test_the_app_client_has_no_secret_and_signs_in_by_password_and_refresh_token(template):
    client = template["Resources"]["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert client["ExplicitAuthFlows"] == AUTH_FLOWS == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    # "Incorrect username or password" for an unknown email too: no account enumeration.
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["EnableTokenRevocation"] is True
    outputs = template["Outputs"]
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": "UserPoolClient"}


@pytest.mark.parametrize(("mode", "tier"), [("OFF", "ESSENTIALS"), ("AUDIT", "PLUS"), ("ENFORCED", "PLUS")])
def test_advanced_security_puts_the_pool_on_the_tier_that_has_it(template, mode, tier):
    props = template["Resources"]["UserPool"]["Properties"]
    assert template["Parameters"]["AdvancedSecurityMode"]["Default"] == "OFF"
    assert mode in template["Parameters"]["AdvancedSecurityMode"]["AllowedValues"]
    parameters = {"AdvancedSecurityMode": mode}
    assert _resolve(props["UserPoolAddOns"]["AdvancedSecurityMode"], parameters) == mode
    # AWS refuses AUDIT or ENFORCED on a pool below the Plus tier.
    assert _resolve(props["UserPoolTier"], parameters, template["Conditions"]) == tier


@pytest.mark.parametrize(
    ("identity", "sender"),
    [("", "COGNITO_DEFAULT"), ("arn:aws:ses:eu-west-1:123456789012:identity/example.com", "DEVELOPER")],
)
def test_the_pool_mails_through_ses_when_given_an_identity(template, identity, sender):
    email = template["Resources"]["UserPool"]["Properties"]["EmailConfiguration"]
    parameters = {"SesIdentityArn": identity, "EmailFrom": ""}
    chosen = _resolve(email, parameters, template["Conditions"])
    assert chosen["EmailSendingAccount"] == sender
    if identity:
        assert chosen["SourceArn"] == {"Ref": "SesIdentityArn"}


def test_a_userpool_grant_names_the_pool_the_functions_use():
    arn = _resource_arn("userpool:accounts")
    parameters = {
        "ExistingUserPoolId": "",
        "UserPool": "us-east-1_New",
        "AWS::Partition": "aws",
        "AWS::Region": "us-east-1",
        "AWS::AccountId": "123456789012",
    }
    conditions = {"AdoptUserPool": {"Fn::Not": [{"Fn::Equals": [{"Ref": "ExistingUserPoolId"}, ""]}]}}
    assert _resolve(json.loads(json.dumps(arn.to_dict())), parameters, conditions) == (
        "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_New"
    )
    with pytest.raises(ValueError, match="unknown resource key"):
        _resource_arn("userpool:another")


def test_every_grant_is_a_function_of_the_template(template):
    packaged = {lid for lid, r in template["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"}
    assert packaged == set(FUNCTIONS)
    assert set(GRANTS) == set(FUNCTIONS.values())


# --- linters (the accepted findings and their reasons are in infra/lint.py) -------------------


def test_the_template_passes_cfn_lint_with_every_rule(packaged):
    result = lint.cfn_lint(packaged / "sam.json", lint.CFN_LINT_ACCEPTED)
    # No errors, warnings or informational findings: exit code 0.
    assert result.returncode == 0, f"cfn-lint exit {result.returncode}:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def translated(packaged, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("translated") / "cloudformation.json"
    path.write_text(json.dumps(lint.translated(packaged / "sam.json")))
    return path


def test_the_translated_template_passes_cfn_lint(translated):
    result = lint.cfn_lint(translated, {**lint.CFN_LINT_ACCEPTED, **lint.CFN_LINT_ACCEPTED_TRANSLATED})
    assert result.returncode == 0, f"cfn-lint exit {result.returncode}:\n{result.stdout}\n{result.stderr}"
    assert len(translated.read_text()) > 51_200  # why the template goes through S3


def test_checkov_finds_nothing_but_what_is_accepted_with_its_reason(packaged, translated):
    assert lint.checkov([packaged / "sam.json", translated]) == []
    assert all(len(reason) > 40 for reason in lint.CHECKOV_ACCEPTED.values())


# --- the package -----------------------------------------------------------------------------


def test_the_package_ships_bytecode_for_every_module_as_lambda_will_find_it(packaged):
    import importlib.util
    import zipfile

    with zipfile.ZipFile(packaged / "deployment.zip") as zipped:
        names = set(zipped.namelist())
        sources = [n for n in names if n.endswith(".py")]
        tag = sys.implementation.cache_tag
        for source in sources:
            folder, _, module = source.rpartition("/")
            pyc = f"{folder + '/' if folder else ''}__pycache__/{module[:-3]}.{tag}.pyc"
            assert pyc in names, f"{source} has no bytecode"
        header = zipped.read(f"__pycache__/app.{tag}.pyc")[:16]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, not checked against the source
    assert len(sources) > 500


def test_the_same_code_makes_the_same_package(packaged, tmp_path):
    from infra.build import precompiled

    # Compiling the package's modules again gives the same bytes: an unchanged package is not
    # uploaded again nor published as a new version.
    again = tmp_path / "again.zip"
    precompiled(packaged / "deployment.zip", again, runtime=f"python{sys.version_info.major}.{sys.version_info.minor}")
    assert again.read_bytes() == (packaged / "deployment.zip").read_bytes()


def test_the_local_and_test_pool_has_the_stacks_password_policy(aws):
    # A password the local stack and the tests accept must be one AWS accepts, and the reverse.
    from chalicelib.store import create_user_pool, identity

    identity.reset_client()
    try:
        pool_id, _ = create_user_pool()
        policy = aws.client("cognito-idp").describe_user_pool(UserPoolId=pool_id)["UserPool"]["Policies"]
    finally:
        identity.reset_client()
    expected = {k: v for k, v in PASSWORD_POLICY.items() if k != "TemporaryPasswordValidityDays"}
    assert {k: policy["PasswordPolicy"].get(k) for k in expected} == expected
