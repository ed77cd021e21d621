"""infra/resources.json against the PynamoDB models, and the packaged template against cfn-lint.

The expected tables are derived from the model classes (keys, key attribute types, indexes,
projections, TTL), never written out here: a model that gains an index, a key or a TTL the
template lacks fails these tests. The template names tables ``licensing-${Stage}-<name>``; the
tests run with the dev prefix (tests/conftest.py), so names are compared by their suffix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pynamodb.indexes import GlobalSecondaryIndex, LocalSecondaryIndex

from chalicelib.settings import get_settings
from chalicelib.store.models import ALL_MODELS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "resources.json"
TABLE_NAME = "licensing-${Stage}-%s"
SECRET_NAME = "licensing/${Stage}/lease-signing-key"
PACKAGE_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


def _resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    # A resource without a Type is merged into one of Chalice's (the RestAPI's throttling).
    return {lid: r for lid, r in template["Resources"].items() if r.get("Type") == type_}


def _tables_by_name(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Template table name pattern (the Fn::Sub string) -> (logical id, properties)."""
    tables = {}
    for lid, resource in _resources(template, "AWS::DynamoDB::Table").items():
        name = resource["Properties"]["TableName"]
        assert isinstance(name, dict) and set(name) == {"Fn::Sub"}, f"{lid}: TableName must be an Fn::Sub"
        tables[name["Fn::Sub"]] = (lid, resource["Properties"])
    return tables


def _suffix(model) -> str:
    prefix = get_settings().table_prefix
    assert model.Meta.table_name.startswith(prefix), model.Meta.table_name
    return model.Meta.table_name.removeprefix(prefix)


def _key_schema(hash_attr, range_attr) -> list[dict[str, str]]:
    """A key schema as CloudFormation wants it: HASH first, then RANGE."""
    schema = [{"AttributeName": hash_attr.attr_name, "KeyType": "HASH"}]
    if range_attr is not None:
        schema.append({"AttributeName": range_attr.attr_name, "KeyType": "RANGE"})
    return schema


def _index_keys(index) -> tuple[Any, Any]:
    attrs = index.Meta.attributes.values()
    hash_attr = next((a for a in attrs if a.is_hash_key), None)
    range_attr = next((a for a in attrs if a.is_range_key), None)
    assert hash_attr is not None, f"index {index.Meta.index_name} has no hash key"
    return hash_attr, range_attr


def _projection(index) -> dict[str, Any]:
    projection = {"ProjectionType": index.Meta.projection.projection_type}
    if index.Meta.projection.non_key_attributes:
        projection["NonKeyAttributes"] = sorted(index.Meta.projection.non_key_attributes)
    return projection


def _expected_table(model) -> dict[str, Any]:
    """What the template must declare for ``model``, derived from the model class."""
    hash_attr, range_attr = model._hash_key_attribute(), model._range_key_attribute()
    assert hash_attr is not None and hash_attr.attr_name == model.get_attributes()[model._hash_keyname].attr_name
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
    name = TABLE_NAME % _suffix(model)
    assert name in tables, f"{model.__name__}: no table named {name!r} in {TEMPLATE.name}"
    lid, props = tables[name]
    expected = _expected_table(model)

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
        assert props.get("TimeToLiveSpecification") == {"AttributeName": expected["TTL"], "Enabled": True}, lid

    assert model.Meta.billing_mode == props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    resource = template["Resources"][lid]
    assert resource.get("DeletionPolicy") == resource.get("UpdateReplacePolicy") == "Retain", lid
    assert template["Outputs"][f"{lid}Name"]["Value"] == {"Ref": lid}


def test_no_table_without_a_model(template):
    expected = {TABLE_NAME % _suffix(model) for model in ALL_MODELS}
    assert set(_tables_by_name(template)) == expected


def test_stage_parameter_matches_chalice_config(template):
    assert template["Parameters"]["Stage"]["Default"] == "prod"
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert "prod" in config["stages"]
    for stage, settings in config["stages"].items():
        env = settings.get("environment_variables", {})
        assert env.get("TABLE_PREFIX") == TABLE_NAME.replace("${Stage}", stage) % "", stage
        assert env.get("SIGNING_KEY_SECRET_ID") == SECRET_NAME.replace("${Stage}", stage), stage


def test_signing_key_secret_is_a_placeholder_the_service_refuses(template):
    from chalicelib.security.signing import parse_secret

    (secret,) = _resources(template, "AWS::SecretsManager::Secret").values()
    assert secret["Properties"]["Name"] == {"Fn::Sub": SECRET_NAME}
    assert secret.get("DeletionPolicy") == secret.get("UpdateReplacePolicy") == "Retain"
    # Until an operator puts a real key in it, the service fails closed (no lease signed).
    with pytest.raises((ValueError, KeyError)):
        parse_secret(secret["Properties"]["SecretString"])


def test_every_function_table_and_the_api_have_alarms(template):
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    described = {a["Properties"]["AlarmDescription"] for a in alarms.values()}
    for function, scheduled in (("APIHandler", False), ("ExpireTrials", True), ("BlockUnconfirmed", True),
                                ("DeactivateSilent", True), ("MeterUsage", True)):
        assert {f"{function} failed", f"{function} was throttled"} <= described, function
        assert (f"{function} did not run" in described) is scheduled, function
    for lid in _tables_by_name(template).values():
        assert {f"{lid[0]}: ReadThrottleEvents", f"{lid[0]}: WriteThrottleEvents",
                f"{lid[0]}: DynamoDB system errors"} <= described
    assert {"The API answered 5xx", "The API's p99 latency is over 1 s"} <= described
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]


def test_the_api_is_throttled(template):
    (setting,) = template["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiBurstLimit"}


# What API Gateway answers by itself, before the function, must be in the contract's body too.
# MISSING_AUTHENTICATION_TOKEN is its answer to a path (or a method) it has no route for.
GATEWAY_RESPONSES = {"MISSING_AUTHENTICATION_TOKEN": "NOT_FOUND", "RESOURCE_NOT_FOUND": "NOT_FOUND",
                     "THROTTLED": "RATE_LIMITED", "QUOTA_EXCEEDED": "RATE_LIMITED",
                     "INTEGRATION_TIMEOUT": "UNAVAILABLE", "DEFAULT_4XX": "VALIDATION_ERROR",
                     "DEFAULT_5XX": "INTERNAL"}


def _gateway_responses(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # On the SAM Api (not AWS::ApiGateway::GatewayResponse resources): SAM writes them into the
    # API's definition, so a change to one is deployed with the API, not left undeployed.
    return template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]


def test_the_gateways_own_answers_carry_the_contracts_error_body(template):
    from chalicelib.api.errors import STATUS
    from chalicelib.domain.errors import MESSAGES, Code

    responses = _gateway_responses(template)

    assert {kind: json.loads(responses[kind]["ResponseTemplates"]["application/json"])["error"]["code"]
            for kind in GATEWAY_RESPONSES} == GATEWAY_RESPONSES
    for kind, response in responses.items():
        assert set(response["ResponseTemplates"]) == {"application/json"}, kind
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


def test_an_unknown_path_gets_the_same_answer_deployed_and_on_chalice_local(template):
    from local.stack import not_found_response

    deployed = _gateway_responses(template)["MISSING_AUTHENTICATION_TOKEN"]
    local = not_found_response()

    assert json.loads(deployed["ResponseTemplates"]["application/json"]) == json.loads(local["body"])
    assert int(deployed["StatusCode"]) == local["statusCode"] == 404


# --- the packaged template ------------------------------------------------------------------


def _venv_tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate if candidate.exists() else ROOT / ".venv" / "bin" / name)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict[str, Any]:
    """``chalice package --stage prod --merge-template infra/resources.json``, run once per module."""
    out = tmp_path_factory.mktemp("package") / "out"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_ENDPOINT_URL", None)
    result = subprocess.run(
        [_venv_tool("chalice"), "package", "--stage", "prod", "--merge-template", str(TEMPLATE), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=PACKAGE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"chalice package failed:\n{result.stdout}\n{result.stderr}"
    sam = out / "sam.json"
    return {"path": sam, "template": json.loads(sam.read_text()), "env": env}


def test_packaged_template_passes_cfn_lint(packaged):
    result = subprocess.run(
        [_venv_tool("cfn-lint"), "--", str(packaged["path"])],
        cwd=ROOT,
        env=packaged["env"],
        capture_output=True,
        text=True,
        timeout=PACKAGE_TIMEOUT_S,
        check=False,
    )
    # No errors and no warnings: exit code 0 (2 = errors, 4 = warnings, 8 = informational).
    assert result.returncode == 0, f"cfn-lint exit {result.returncode}:\n{result.stdout}\n{result.stderr}"


def test_packaged_template_holds_the_merged_resources(packaged, template):
    sam = packaged["template"]
    assert sam["Parameters"]["Stage"] == template["Parameters"]["Stage"]
    for lid, resource in template["Resources"].items():
        if "Type" in resource:
            assert sam["Resources"][lid] == resource, lid
    assert sam["Resources"]["RestAPI"]["Properties"]["MethodSettings"] == template["Resources"]["RestAPI"][
        "Properties"]["MethodSettings"]
    assert _gateway_responses(sam) == _gateway_responses(template)
    # The operator key's hash is a deploy parameter, merged into the API function's environment.
    variables = sam["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["OPERATOR_KEY_SHA256"] == {"Ref": "OperatorKeySha256"}
    assert variables["TABLE_PREFIX"] == "licensing-prod-"
    for name in template["Outputs"]:
        assert name in sam["Outputs"], name
    # Every function Chalice packaged runs under a role holding exactly the stage's policy file.
    policy = json.loads((ROOT / ".chalice" / "policy-prod.json").read_text())
    functions = _resources(sam, "AWS::Serverless::Function")
    assert len(functions) == 5
    for lid, function in functions.items():
        role = sam["Resources"][function["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert [p["PolicyDocument"] for p in role["Properties"]["Policies"]] == [policy], lid
