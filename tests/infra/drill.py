"""The deploy drill of issue 12: the production package deployed, used, deleted and deployed
again, offline.

1. ``package``: the project's packaging, ``python -m infra.build --out DIR``: ``sam.json`` and
   ``deployment.zip``.
2. ``upload_code``: what ``aws cloudformation package`` does: the zip goes to an S3 bucket and
   every ``CodeUri`` becomes its ``s3://`` location.
3. ``translate``: SAM to plain CloudFormation with aws-sam-translator, offline.
4. ``Drill.create``: the stack on moto's CloudFormation (a ``ThreadedMotoServer`` on 127.0.0.1,
   so the functions, run in subprocesses, reach the same moto through ``AWS_ENDPOINT_URL``), the
   template uploaded to S3 and passed as ``TemplateURL`` (it is over the 51,200 bytes taken
   inline). Every parameter the template declares gets the drill's value or its default.
5. ``ADAPTATIONS``: every change the drill makes for moto, each with its reason. A resource type
   moto's CloudFormation cannot create and no adaptation covers fails the drill.
6. ``Function``: a function's handler run from the unzipped package, read-only, in ``python -S``
   with the environment the stack gave the function plus ``RUNTIME_ADDITIONS``.

The adaptations (``describe_adaptations()`` prints this table with what each touched):

{adaptations}

What each function's environment gets besides its own variables (``RUNTIME_ADDITIONS``):

{additions}
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STAGE = "prod"
STACK_NAME = f"licensing-{STAGE}"
ARTIFACT_BUCKET = "licensing-deploy-artifacts"
PACKAGE_TIMEOUT_S = 900

# The operator key of the drill; the stack gets only its hash (OperatorKeySha256).
OPERATOR_KEY = "lk_op.drill-operator-key-" + "0123456789abcdef" * 2
OPERATOR_KEY_SHA256 = hashlib.sha256(OPERATOR_KEY.encode()).hexdigest()

# The source of the service's EventBridge announcements (chalicelib/notifications.py).
NOTIFICATION_SOURCE = "metered-licensing"

# The managed policies SAM may name (Policies: [AWSLambdaBasicExecutionRole, ...]); offline,
# the translator cannot list them from IAM.
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for path, name in (
        ("service-role/", "AWSLambdaBasicExecutionRole"),
        ("service-role/", "AWSLambdaRole"),
        ("", "AWSXrayWriteOnlyAccess"),
        ("service-role/", "AWSLambdaVPCAccessExecutionRole"),
        ("", "CloudWatchLambdaInsightsExecutionRolePolicy"),
        ("service-role/", "AWSCodeDeployRoleForLambda"),
        ("service-role/", "AWSCodeDeployRoleForLambdaLimited"),
    )
}

# What the Lambda runtime puts in a function's environment besides the function's own
# variables, and what the drill adds to reach moto: name -> (value, whose and why). Nothing else
# is passed (no PATH, no HOME, no PYTHONPATH). ``conf`` is GetFunctionConfiguration's answer.
RUNTIME_ADDITIONS: dict[str, tuple[Callable[[dict[str, Any], str, Path], str], str]] = {
    "AWS_ENDPOINT_URL": (lambda conf, endpoint, root: endpoint, "the drill's: every AWS call goes to moto's server"),
    "AWS_ACCESS_KEY_ID": (lambda conf, endpoint, root: "drill", "Lambda's (the role's credentials); dummy for moto"),
    "AWS_SECRET_ACCESS_KEY": (lambda conf, endpoint, root: "drill", "Lambda's (the role's credentials); dummy"),
    "AWS_SESSION_TOKEN": (lambda conf, endpoint, root: "drill", "Lambda's (the role's credentials); dummy"),
    "AWS_REGION": (lambda conf, endpoint, root: REGION, "Lambda's: the function's region"),
    "AWS_DEFAULT_REGION": (lambda conf, endpoint, root: REGION, "Lambda's: the function's region"),
    "AWS_LAMBDA_FUNCTION_NAME": (lambda conf, endpoint, root: conf["FunctionName"], "Lambda's"),
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": (lambda conf, endpoint, root: str(conf.get("MemorySize", 128)), "Lambda's"),
    "AWS_LAMBDA_FUNCTION_VERSION": (lambda conf, endpoint, root: conf.get("Version", "$LATEST"), "Lambda's"),
    "LAMBDA_TASK_ROOT": (lambda conf, endpoint, root: str(root), "Lambda's: where the code is (read-only)"),
    "TZ": (lambda conf, endpoint, root: ":UTC", "Lambda's"),
}


class DrillError(AssertionError):
    """The drill found something a deploy to AWS would trip on (or a gap it cannot cover)."""


class DrillUnavailable(RuntimeError):
    """A tool the drill needs is missing on this machine."""


# --- 1. packaging -----------------------------------------------------------------------------


def package(out: Path) -> Path:
    """The production package in ``out`` (``sam.json`` and ``deployment.zip``), as
    ``python -m infra.build --out DIR`` writes it (the same package for every stage)."""
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION}
    env.pop("AWS_ENDPOINT_URL", None)
    command = [sys.executable, "-m", "infra.build", "--out", str(out)]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=PACKAGE_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise DrillError(f"packaging failed: {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    for name in ("sam.json", "deployment.zip"):
        if not (out / name).is_file():
            raise DrillError(f"packaging wrote no {name} in {out}: {' '.join(command)}")
    return out


# --- moto's server --------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1 and a free port, in this process; yields its endpoint."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with contextlib.ExitStack() as patches:
        for adaptation in ADAPTATIONS:
            if adaptation.server:
                patches.enter_context(adaptation.server())
        server.start()
        host, port = server.get_host_and_port()
        _ENDPOINT.append(f"http://{host}:{port}")
        _reset(_ENDPOINT[-1])  # moto's state is per process: start from an empty account
        try:
            yield _ENDPOINT[-1]
        finally:
            _reset(_ENDPOINT[-1])
            server.stop()
            _ENDPOINT.pop()


def _reset(endpoint: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()


def client(endpoint: str, service: str):
    import boto3

    return boto3.client(
        service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="drill", aws_secret_access_key="drill"
    )


def _moto_account() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return DEFAULT_ACCOUNT_ID


# --- 2. what `aws cloudformation package` does ----------------------------------------------------


CODE_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


def upload_code(sam: dict[str, Any], package_dir: Path, s3, bucket: str) -> dict[str, Any]:
    """``sam`` with every local ``CodeUri``/``ContentUri`` uploaded to ``bucket`` (keyed by the
    file's hash, as ``aws cloudformation package`` does) and replaced by its ``s3://`` URI."""
    sam = copy.deepcopy(sam)
    uploaded: dict[Path, str] = {}
    for lid, resource in sam["Resources"].items():
        prop = CODE_PROPERTIES.get(resource.get("Type"))
        value = resource.get("Properties", {}).get(prop) if prop else None
        if not isinstance(value, str) or value.startswith("s3://"):
            continue
        path = (package_dir / value).resolve()
        if not path.is_file():
            raise DrillError(f"{lid}.{prop} names {value}, which the package does not hold")
        if path not in uploaded:
            key = hashlib.md5(path.read_bytes()).hexdigest()  # the key scheme of the CLI
            try:
                s3.head_object(Bucket=bucket, Key=key)  # the CLI too skips what is uploaded already
            except s3.exceptions.ClientError:
                s3.upload_file(str(path), bucket, key)
            uploaded[path] = f"s3://{bucket}/{key}"
        resource["Properties"][prop] = uploaded[path]
    if not uploaded:
        raise DrillError("no CodeUri to upload: the template names no local code")
    return sam


# --- 3. SAM -> CloudFormation ------------------------------------------------------------------

_TRANSLATE = r"""
import json, sys
import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
request = json.load(sys.stdin)
translator = Translator(request["policies"], Parser(), boto_session=boto3.Session(region_name=request["region"]))
translated = translator.translate(request["sam"], parameter_values=request["parameters"],
                                  get_managed_policy_map=lambda: request["policies"])
with open(sys.argv[1], "w") as out:
    json.dump(translated, out)
"""


def _translator_python() -> str:
    """An interpreter that has aws-sam-translator: this one, else the one this venv was made from
    (aws-sam-translator pins pydantic~=2.13, the project pins 2.14, so it cannot join the venv)."""
    for candidate in dict.fromkeys((sys.executable, getattr(sys, "_base_executable", sys.executable))):
        probe = subprocess.run([candidate, "-c", "import samtranslator, boto3"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    raise DrillUnavailable(
        "aws-sam-translator is installed neither in this interpreter nor in its base "
        f"({sys.executable}); pip install aws-sam-translator there"
    )


def translate(sam: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The SAM template as plain CloudFormation, translated offline by aws-sam-translator."""
    request = {"sam": sam, "parameters": parameters, "policies": MANAGED_POLICIES, "region": REGION}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_DEFAULT_REGION"] = REGION
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cloudformation.json"
        result = subprocess.run(
            [_translator_python(), "-c", _TRANSLATE, str(out)],
            input=json.dumps(request),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise DrillError(f"aws-sam-translator refused the template:\n{result.stderr[-4000:]}")
        return json.loads(out.read_text())


# --- parameters ------------------------------------------------------------------------------


def parameter_values(template: dict[str, Any], chosen: dict[str, str]) -> dict[str, str]:
    """A value for every parameter the template declares: the drill's choice, else the default.
    A parameter with neither fails (the drill must learn what to pass). The values are checked
    against AllowedPattern and AllowedValues, which moto does not check."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in chosen:
            value = chosen[name]
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise DrillError(
                f"parameter {name} has no default and the drill passes no value: add it to "
                "Drill.parameters (tests/infra/drill.py)"
            )
        _check_parameter(name, spec, value)
        values[name] = value
    _check_rules(template, values)
    return values


def _check_rules(template: dict[str, Any], values: dict[str, str]) -> None:
    """The template's Rules on the parameters, as CloudFormation checks them before it creates
    anything (moto ignores them): a failed assertion fails the create with its description."""
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _rule_holds(rule["RuleCondition"], values):
            continue
        for assertion in rule["Assertions"]:
            if not _rule_holds(assertion["Assert"], values):
                raise DrillError(f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}")


def _rule_holds(expression: Any, values: dict[str, str]) -> Any:
    """A rule's expression over parameter values: Ref, Fn::Equals, Fn::Not, Fn::And, Fn::Or."""
    if not isinstance(expression, dict):
        return expression
    ((function, args),) = expression.items()
    if function == "Ref":
        return values[args]
    if function == "Fn::Equals":
        return _rule_holds(args[0], values) == _rule_holds(args[1], values)
    if function == "Fn::Not":
        return not _rule_holds(args[0], values)
    if function == "Fn::And":
        return all(_rule_holds(a, values) for a in args)
    if function == "Fn::Or":
        return any(_rule_holds(a, values) for a in args)
    raise DrillError(f"the drill cannot evaluate {function} in a rule: add it to _rule_holds (tests/infra/drill.py)")


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        raise DrillError(f"parameter {name}={value!r} is not one of {spec['AllowedValues']}")
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        raise DrillError(f"parameter {name}={value!r} does not match {spec['AllowedPattern']}")
    if spec.get("Type") == "Number":
        if not re.fullmatch(r"-?\d+(\.\d+)?", value):
            raise DrillError(f"parameter {name}={value!r} is not a number")
        for bound, check in (("MinValue", lambda n: float(value) >= n), ("MaxValue", lambda n: float(value) <= n)):
            if bound in spec and not check(float(spec[bound])):
                raise DrillError(f"parameter {name}={value!r}: {bound} {spec[bound]}")
    for bound, check in (("MinLength", lambda n: len(value) >= n), ("MaxLength", lambda n: len(value) <= n)):
        if bound in spec and not check(int(spec[bound])):
            raise DrillError(f"parameter {name}={value!r}: {bound} {spec[bound]}")


# --- 5. adaptations ----------------------------------------------------------------------------
#
# Where moto's CloudFormation has no model for a type (or a broken one), the drill gives it one
# (``DrillModel``), in moto's map of models while the drill's server runs, which creates and
# deletes the resource through moto's own API (the server is threaded, so a model may call it
# while it serves CreateStack). So the resource is created in dependency
# order, its Ref and Fn::GetAtt give what CloudFormation gives, moto's DeletionPolicy handling
# applies to it, and a failure fails the create.

_ENDPOINT: list[str] = []  # the running server's endpoint, for the models


def _api(service: str):
    return client(_ENDPOINT[-1], service)


def _cfn_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


def _camel(value: Any) -> Any:
    """CloudFormation's property spelling (PascalCase) as the service API's (camelCase)."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


@dataclass(frozen=True)
class DrillModel:
    """How the drill creates and deletes one resource type on moto, through its API.

    ``create(name, properties) -> (physical id, attributes)``: ``name`` is the template's name
    property (``name_property``) or one CloudFormation would generate. ``attributes`` answer
    Fn::GetAtt."""

    type: str
    name_property: str
    create: Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]
    delete: Callable[[str, dict[str, Any]], None]
    what: str
    why: str


def _create_alarm(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    cloudwatch = _api("cloudwatch")
    cloudwatch.put_metric_alarm(**{**props, "AlarmName": name})  # botocore refuses unknown properties
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return name, {"Arn": alarm["AlarmArn"]}


def _create_secret(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sm = _api("secretsmanager")
    if "GenerateSecretString" in props:
        spec = dict(props["GenerateSecretString"])
        template, key = spec.pop("SecretStringTemplate", None), spec.pop("GenerateStringKey", None)
        value = sm.get_random_password(**spec)["RandomPassword"]
        if template is not None and key:
            value = json.dumps({**json.loads(template), key: value})
    else:
        value = props.get("SecretString", "")
    args = {
        "Name": name,
        "SecretString": value,
        "Description": props.get("Description", ""),
        "Tags": props.get("Tags", []),
    }
    if props.get("KmsKeyId"):
        args["KmsKeyId"] = props["KmsKeyId"]
    try:
        arn = sm.create_secret(**args)["ARN"]
    except sm.exceptions.ResourceExistsException as e:
        raise _cfn_error(
            f"Resource of type 'AWS::SecretsManager::Secret' with identifier '{name}' already exists."
        ) from e
    return arn, {"Id": arn}


def _import_body(api_id: str, body: dict[str, Any]) -> None:
    """Each Swagger path and method of ``body`` as a resource, method and integration of the API."""
    apigw = _api("apigateway")
    by_path = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=api_id, limit=500)["items"]}
    for path in sorted(body.get("paths", {})):
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            sub = "/" + "/".join(parts[:depth])
            if sub not in by_path:
                parent = by_path["/" + "/".join(parts[: depth - 1])] if depth > 1 else by_path["/"]
                by_path[sub] = apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=parts[depth - 1])["id"]
        for method, spec in body["paths"][path].items():
            if method.startswith("x-") and method != "x-amazon-apigateway-any-method":
                continue
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            apigw.put_method(restApiId=api_id, resourceId=by_path[path], httpMethod=verb, authorizationType="NONE")
            integration = spec.get("x-amazon-apigateway-integration")
            if integration:
                apigw.put_integration(
                    restApiId=api_id,
                    resourceId=by_path[path],
                    httpMethod=verb,
                    type=integration["type"].upper(),
                    uri=integration["uri"],
                    integrationHttpMethod=integration.get("httpMethod", "POST"),
                )


def _create_rest_api(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    apigw = _api("apigateway")
    body = props.get("Body") or {}
    args: dict[str, Any] = {
        "name": props.get("Name") or body.get("info", {}).get("title") or name,
        "description": props.get("Description", ""),
    }
    if props.get("EndpointConfiguration"):
        args["endpointConfiguration"] = _camel(props["EndpointConfiguration"])
    api_id = apigw.create_rest_api(**args)["id"]
    _import_body(api_id, body)
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    return api_id, {"RootResourceId": root}


STAGE_METHOD_SETTINGS = {
    "ThrottlingRateLimit": "throttling/rateLimit",
    "ThrottlingBurstLimit": "throttling/burstLimit",
    "LoggingLevel": "logging/loglevel",
    "MetricsEnabled": "metrics/enabled",
    "DataTraceEnabled": "logging/dataTrace",
}


def _create_stage(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    apigw = _api("apigateway")
    api_id, stage = props["RestApiId"], props["StageName"]
    apigw.create_stage(
        restApiId=api_id,
        stageName=stage,
        deploymentId=props["DeploymentId"],
        description=props.get("Description", ""),
        variables=props.get("Variables", {}),
        tracingEnabled=bool(props.get("TracingEnabled", False)),
    )
    patches = []
    for setting in props.get("MethodSettings", []):
        resource_path = setting.get("ResourcePath", "/*")
        scope = "/{}/{}".format(
            "*" if resource_path == "/*" else resource_path.replace("/", "~1"), setting.get("HttpMethod", "*")
        )
        for key, path in STAGE_METHOD_SETTINGS.items():
            if key in setting:
                value = setting[key]
                patches.append(
                    {
                        "op": "replace",
                        "path": f"{scope}/{path}",
                        "value": str(value).lower() if isinstance(value, bool) else str(value),
                    }
                )
    for key, value in (props.get("AccessLogSetting") or {}).items():
        patches.append({"op": "replace", "path": f"/accessLogSettings/{key[:1].lower() + key[1:]}", "value": value})
    if patches:
        apigw.update_stage(restApiId=api_id, stageName=stage, patchOperations=patches)
    return stage, {}


def _create_deployment(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {"restApiId": props["RestApiId"], "description": props.get("Description", "")}
    if props.get("StageName"):
        args["stageName"] = props["StageName"]
    return _api("apigateway").create_deployment(**args)["id"], {}


def _create_version(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    version = _api("lambda").publish_version(
        FunctionName=props["FunctionName"], Description=props.get("Description", "")
    )
    return version["FunctionArn"], {"Version": version["Version"]}


def _create_alias(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {
        "FunctionName": props["FunctionName"],
        "Name": props["Name"],
        "FunctionVersion": props["FunctionVersion"],
        "Description": props.get("Description", ""),
    }
    if props.get("RoutingConfig"):
        args["RoutingConfig"] = props["RoutingConfig"]
    arn = _api("lambda").create_alias(**args)["AliasArn"]
    return arn, {"AliasArn": arn}


def _create_invoke_config(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {
        k: props[k]
        for k in ("FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
        if k in props
    }
    _api("lambda").put_function_event_invoke_config(**args)
    return f"{props['FunctionName']}:{props.get('Qualifier', '$LATEST')}", {}


def _delete_invoke_config(physical: str, props: dict[str, Any]) -> None:
    _api("lambda").delete_function_event_invoke_config(
        FunctionName=props["FunctionName"], Qualifier=props.get("Qualifier", "$LATEST")
    )


def _create_domain(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {"domainName": name}
    for key in ("RegionalCertificateArn", "CertificateArn", "SecurityPolicy", "EndpointConfiguration"):
        if key in props:
            args[key[:1].lower() + key[1:]] = _camel(props[key])
    domain = _api("apigateway").create_domain_name(**args)
    return name, {
        "RegionalDomainName": domain.get("regionalDomainName", f"d-drill.execute-api.{REGION}.amazonaws.com"),
        "RegionalHostedZoneId": domain.get("regionalHostedZoneId", "Z1UJRXOUMOOFQ8"),
        "DistributionDomainName": domain.get("distributionDomainName", ""),
        "DistributionHostedZoneId": domain.get("distributionHostedZoneId", ""),
    }


def _create_mapping(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {"domainName": props["DomainName"], "restApiId": props["RestApiId"]}
    if props.get("BasePath"):
        args["basePath"] = props["BasePath"]
    if props.get("Stage"):
        args["stage"] = props["Stage"]
    _api("apigateway").create_base_path_mapping(**args)
    return f"{props['DomainName']}/{props.get('BasePath', '(none)')}", {}


def _set_queue_policy(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    sqs = _api("sqs")
    for url in props["Queues"]:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
    return name, {}


def _remove_queue_policy(physical: str, props: dict[str, Any]) -> None:
    sqs = _api("sqs")
    for url in props["Queues"]:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})


def _update_account(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if props.get("CloudWatchRoleArn"):
        _api("apigateway").update_account(
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": props["CloudWatchRoleArn"]}]
        )
    return name, {}


def _create_codedeploy_app(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    _api("codedeploy").create_application(applicationName=name, computePlatform=props.get("ComputePlatform", "Lambda"))
    return name, {}


def _create_deployment_group(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {
        "applicationName": props["ApplicationName"],
        "deploymentGroupName": name,
        "serviceRoleArn": props["ServiceRoleArn"],
    }
    for key in ("DeploymentConfigName", "AlarmConfiguration", "AutoRollbackConfiguration", "DeploymentStyle"):
        if key in props:
            args[key[:1].lower() + key[1:]] = _camel(props[key])
    _api("codedeploy").create_deployment_group(**args)
    return name, {}


def _create_user_pool(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {k: v for k, v in props.items() if k != "UserPoolName"}  # CloudFormation's names are the API's
    pool = _api("cognito-idp").create_user_pool(PoolName=props.get("UserPoolName") or name, **args)["UserPool"]
    return pool["Id"], {
        "Arn": pool["Arn"],
        "UserPoolId": pool["Id"],
        "ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool['Id']}",
        "ProviderURL": f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}",
    }


def _delete_user_pool(physical: str, props: dict[str, Any]) -> None:
    idp = _api("cognito-idp")
    pool = idp.describe_user_pool(UserPoolId=physical)["UserPool"]
    if pool.get("DeletionProtection") == "ACTIVE":  # AWS refuses; moto would delete it
        raise _cfn_error(f"user pool {physical} cannot be deleted: its deletion protection is active")
    idp.delete_user_pool(UserPoolId=physical)


def _create_user_pool_client(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    client = _api("cognito-idp").create_user_pool_client(**{"ClientName": name, **props})["UserPoolClient"]
    return client["ClientId"], {"ClientId": client["ClientId"], "Name": client["ClientName"]}


# The LoadMasters' HTTP API (issue 14): moto's API Gateway v2 API, PascalCase like CloudFormation.
def _route_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A Number parameter reaches a property as a string; the API wants numbers."""
    kinds = {"ThrottlingBurstLimit": int, "ThrottlingRateLimit": float}
    return {k: kinds[k](v) if k in kinds else v for k, v in settings.items()}


def _create_http_api(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = {k: props[k] for k in ("Description", "Tags") if k in props}
    api = _api("apigatewayv2").create_api(Name=props.get("Name") or name, ProtocolType=props["ProtocolType"], **args)
    return api["ApiId"], {"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]}


def _create_integration(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    integration = _api("apigatewayv2").create_integration(**props)
    return integration["IntegrationId"], {}


def _create_route(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return _api("apigatewayv2").create_route(**props)["RouteId"], {}


def _create_http_stage(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = dict(props)
    if "DefaultRouteSettings" in args:
        args["DefaultRouteSettings"] = _route_settings(args["DefaultRouteSettings"])
    if "RouteSettings" in args:
        args["RouteSettings"] = {key: _route_settings(v) for key, v in args["RouteSettings"].items()}
    return _api("apigatewayv2").create_stage(**args)["StageName"], {}


def _create_api_mapping(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return _api("apigatewayv2").create_api_mapping(**props)["ApiMappingId"], {}


# The LoadMasters' optional function URL (issue 14, DeviceFrontDoor=FunctionUrl).
def _url_function(props: dict[str, Any]) -> str:
    """The function's name in TargetFunctionArn (an alias's ARN, ``...:function:<name>:live``)."""
    return props["TargetFunctionArn"].split(":")[6]


def _create_function_url(name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    function = _url_function(props)
    args = {k: props[k] for k in ("AuthType", "Cors", "InvokeMode") if k in props}
    url = _api("lambda").create_function_url_config(FunctionName=function, **args)
    return function, {"FunctionUrl": url["FunctionUrl"], "FunctionArn": url["FunctionArn"]}


_NO_MODEL = "moto's CloudFormation has no model for it (it warns and skips the resource)"
DRILL_MODELS = [
    DrillModel(
        "AWS::CloudWatch::Alarm",
        "AlarmName",
        _create_alarm,
        lambda pid, props: _api("cloudwatch").delete_alarms(AlarmNames=[pid]),
        "PutMetricAlarm; DeleteAlarms",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::SecretsManager::Secret",
        "Name",
        _create_secret,
        lambda pid, props: _api("secretsmanager").delete_secret(SecretId=pid, ForceDeleteWithoutRecovery=True),
        "CreateSecret (a name that exists fails the create, as in CloudFormation); Ref gives the ARN",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGateway::RestApi",
        "Name",
        _create_rest_api,
        lambda pid, props: _api("apigateway").delete_rest_api(restApiId=pid),
        "CreateRestApi (named after the Body's title), then CreateResource, PutMethod and "
        "PutIntegration for every Swagger path and method of the Body",
        "moto's model requires Name and ignores Body (then the Deployment fails: no methods), and "
        "moto imports only OpenAPI 3 (Chalice writes Swagger 2.0). The Body's gateway responses "
        "are not applied",
    ),
    DrillModel(
        "AWS::ApiGateway::Deployment",
        "",
        _create_deployment,
        lambda pid, props: _api("apigateway").delete_deployment(restApiId=props["RestApiId"], deploymentId=pid),
        "CreateDeployment; Ref gives the deployment id",
        "moto's model answers no Ref (the Stage gets an object for DeploymentId)",
    ),
    DrillModel(
        "AWS::ApiGateway::Stage",
        "",
        _create_stage,
        lambda pid, props: _api("apigateway").delete_stage(restApiId=props["RestApiId"], stageName=pid),
        "CreateStage, then UpdateStage for MethodSettings (throttling, logging, metrics) and AccessLogSetting",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::Lambda::Version",
        "",
        _create_version,
        lambda pid, props: None,
        "PublishVersion; Ref gives the version ARN, Fn::GetAtt Version the number",
        "moto's model answers neither Ref nor Fn::GetAtt",
    ),
    DrillModel(
        "AWS::Lambda::Alias",
        "",
        _create_alias,
        lambda pid, props: _api("lambda").delete_alias(FunctionName=props["FunctionName"], Name=props["Name"]),
        "CreateAlias; Ref gives the alias ARN (UpdatePolicy, the gradual shift, is not run)",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::Lambda::EventInvokeConfig",
        "",
        _create_invoke_config,
        _delete_invoke_config,
        "PutFunctionEventInvokeConfig",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGateway::DomainName",
        "DomainName",
        _create_domain,
        lambda pid, props: _api("apigateway").delete_domain_name(domainName=pid),
        "CreateDomainName (moto checks no certificate)",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGateway::BasePathMapping",
        "",
        _create_mapping,
        lambda pid, props: _api("apigateway").delete_base_path_mapping(
            domainName=props["DomainName"], basePath=props.get("BasePath") or "(none)"
        ),
        "CreateBasePathMapping",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::SQS::QueuePolicy",
        "",
        _set_queue_policy,
        _remove_queue_policy,
        "SetQueueAttributes Policy on each queue; emptied on delete",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGateway::Account",
        "",
        _update_account,
        lambda pid, props: None,
        "UpdateAccount (the CloudWatch role API Gateway logs with)",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::CDK::Metadata",
        "",
        lambda name, props: (name, {}),
        lambda pid, props: None,
        "nothing (CDK's own bookkeeping)",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::CodeDeploy::Application",
        "ApplicationName",
        _create_codedeploy_app,
        lambda pid, props: None,
        "CreateApplication; left behind on delete (moto has no DeleteApplication)",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::Cognito::UserPool",
        "UserPoolName",
        _create_user_pool,
        _delete_user_pool,
        "CreateUserPool (every property is the API's parameter; UserPoolName is PoolName); Ref gives the "
        "pool id. DeleteUserPool refused while DeletionProtection is ACTIVE, as AWS refuses it (moto "
        "deletes a protected pool)",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::Cognito::UserPoolClient",
        "ClientName",
        _create_user_pool_client,
        lambda pid, props: _api("cognito-idp").delete_user_pool_client(UserPoolId=props["UserPoolId"], ClientId=pid),
        "CreateUserPoolClient; Ref gives the client id",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGatewayV2::Api",
        "Name",
        _create_http_api,
        lambda pid, props: _api("apigatewayv2").delete_api(ApiId=pid),
        "CreateApi; Ref gives the API id",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGatewayV2::Integration",
        "",
        _create_integration,
        lambda pid, props: _api("apigatewayv2").delete_integration(ApiId=props["ApiId"], IntegrationId=pid),
        "CreateIntegration; Ref gives the integration id",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGatewayV2::Route",
        "",
        _create_route,
        lambda pid, props: _api("apigatewayv2").delete_route(ApiId=props["ApiId"], RouteId=pid),
        "CreateRoute",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGatewayV2::Stage",
        "",
        _create_http_stage,
        lambda pid, props: _api("apigatewayv2").delete_stage(ApiId=props["ApiId"], StageName=pid),
        "CreateStage (route throttles and access log setting as given; moto applies neither)",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::ApiGatewayV2::ApiMapping",
        "",
        _create_api_mapping,
        lambda pid, props: _api("apigatewayv2").delete_api_mapping(ApiMappingId=pid, DomainName=props["DomainName"]),
        "CreateApiMapping (only with DeviceDomainName, which the drill does not give)",
        _NO_MODEL,
    ),
    DrillModel(
        "AWS::Lambda::Url",
        "",
        _create_function_url,
        lambda pid, props: _api("lambda").delete_function_url_config(FunctionName=pid),
        "CreateFunctionUrlConfig on the function the TargetFunctionArn names (only with "
        "DeviceFrontDoor=FunctionUrl); Fn::GetAtt FunctionUrl and FunctionArn",
        "moto's CloudFormation has no model for it, and its API takes no alias (the URL is on the function)",
    ),
    DrillModel(
        "AWS::CodeDeploy::DeploymentGroup",
        "DeploymentGroupName",
        _create_deployment_group,
        lambda pid, props: None,
        "CreateDeploymentGroup; left behind on delete (moto has no DeleteDeploymentGroup); no "
        "deployment runs through it",
        _NO_MODEL,
    ),
]


def _delete_gone_or_not(model: DrillModel, physical_id: str, properties: dict[str, Any]) -> None:
    """Delete, done if the resource is gone already: moto deletes a stack's resources in no
    dependency order, so a stage may go after its API."""
    from botocore.exceptions import ClientError

    try:
        model.delete(physical_id, properties)
    except ClientError as e:
        error = e.response.get("Error", {})
        gone = ("NotFound", "DoesNotExist", "NonExistent", "does not exist")
        if not any(word in error.get("Code", "") + " " + error.get("Message", "") for word in gone):
            raise


def _moto_class(model: DrillModel) -> type:
    """A class with what moto's CloudFormation asks of a model (not a CloudFormationModel
    subclass: moto would keep it registered for good)."""

    def __init__(self, physical_id: str, attributes: dict[str, Any], properties: dict[str, Any]) -> None:
        self._physical_id, self._attributes, self._properties = physical_id, attributes, properties

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.core.exceptions import ServiceException, _RESTError

        properties = cloudformation_json.get("Properties", {})
        try:
            physical_id, attributes = model.create(resource_name, properties)
        except (ServiceException, _RESTError):  # moto's own answer (an existing table, say)
            raise
        except Exception as e:  # the service refused: the create fails, as CloudFormation's would
            raise _cfn_error(f"{model.type} {resource_name}: {e}") from e
        return cls(physical_id, attributes, properties)

    def get_cfn_attribute(self, attribute: str) -> Any:
        if attribute not in self._attributes:
            raise _cfn_error(f"the drill's {model.type} has no attribute {attribute}: add it in tests/infra/drill.py")
        return self._attributes[attribute]

    def delete(self, account_id: str, region_name: str) -> None:
        _delete_gone_or_not(model, self._physical_id, self._properties)

    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        _delete_gone_or_not(model, resource_name, cloudformation_json.get("Properties", {}))

    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    return type(
        f"Drill{model.type.replace('::', '')}",
        (),
        {
            "__init__": __init__,
            "cloudformation_type": staticmethod(lambda: model.type),
            "cloudformation_name_type": staticmethod(lambda: model.name_property),
            "has_cfn_attr": classmethod(lambda cls, attribute: True),
            "create_from_cloudformation_json": classmethod(create_from_cloudformation_json),
            "update_from_cloudformation_json": classmethod(update_from_cloudformation_json),
            "delete_from_cloudformation_json": classmethod(delete_from_cloudformation_json),
            "get_cfn_attribute": get_cfn_attribute,
            "delete": delete,
            "is_created": lambda self: True,
            "physical_resource_id": property(lambda self: self._physical_id),
        },
    )


@contextlib.contextmanager
def _drill_models() -> Iterator[None]:
    """moto's CloudFormation, while the drill's server runs, creates the DRILL_MODELS types with
    the drill's models (which replace moto's own for the same type)."""
    from moto.cloudformation import parsing

    classes = {model.type: _moto_class(model) for model in DRILL_MODELS}
    names = {model.type: model.name_property for model in DRILL_MODELS}
    model_map, name_type_map = parsing.get_model_map, parsing.get_name_type_map
    parsing.get_model_map = lambda: {**model_map(), **classes}
    parsing.get_name_type_map = lambda: {**name_type_map(), **names}
    try:
        yield
    finally:
        parsing.get_model_map, parsing.get_name_type_map = model_map, name_type_map


@contextlib.contextmanager
def _schedule_rules_match_no_events() -> Iterator[None]:
    """moto matches every PutEvents entry against a schedule rule (its empty pattern matches all)
    and then fails with a 500 on its Lambda target. EventBridge never sends put events to a rule
    that has only a schedule."""
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self, event, transform_input=True):
        if self.scheduled_expression and not self.event_pattern._pattern:
            return None
        return original(self, event, transform_input)

    Rule.send_to_targets = send_to_targets
    try:
        yield
    finally:
        Rule.send_to_targets = original


@dataclass
class Context:
    """One stack as the adaptations see it."""

    endpoint: str
    stack_name: str
    template: dict[str, Any]  # the translated template, as the adaptations leave it
    original: dict[str, Any]  # the translated template, before any adaptation
    touched: dict[str, list[str]] = field(default_factory=dict)  # adaptation -> logical ids

    def client(self, service: str):
        return client(self.endpoint, service)

    def resources_of(self, type_: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.template["Resources"].items() if r.get("Type") == type_}


@dataclass(frozen=True)
class Adaptation:
    what: str
    why: str
    template: Callable[[Context], list[str]]  # adapts ctx.template; returns the logical ids it concerns
    created: Callable[[Context], None] | None = None  # after a successful create
    deleting: Callable[[Context], None] | None = None  # before DeleteStack
    server: Callable[[], contextlib.AbstractContextManager] | None = None  # while moto's server runs


def _of_type(*types: str) -> Callable[[Context], list[str]]:
    return lambda ctx: [lid for t in types for lid in ctx.resources_of(t)]


def _apply_table_settings(ctx: Context) -> None:
    ddb = ctx.client("dynamodb")
    physical = _physical_ids(ctx)
    for lid, resource in ctx.resources_of("AWS::DynamoDB::Table").items():
        if lid not in physical:
            continue
        props = resource.get("Properties", {})
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(TableName=physical[lid], TimeToLiveSpecification=_resolved_bools(ttl))
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr:
            ddb.update_continuous_backups(
                TableName=physical[lid], PointInTimeRecoverySpecification=_resolved_bools(pitr)
            )


def _tables_with_settings(ctx: Context) -> list[str]:
    return [
        lid
        for lid, r in ctx.resources_of("AWS::DynamoDB::Table").items()
        if {"TimeToLiveSpecification", "PointInTimeRecoverySpecification"} & set(r.get("Properties", {}))
    ]


def _resolved_bools(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (str(v).lower() == "true" if k.endswith("Enabled") and not isinstance(v, bool) else v)
        for k, v in spec.items()
    }


def _retain_except_on_create(ctx: Context) -> list[str]:
    return [lid for lid, r in ctx.template["Resources"].items() if r.get("DeletionPolicy") == "RetainExceptOnCreate"]


def _keep_retain_except_on_create(ctx: Context) -> None:
    """Before deleting a stack that was created: RetainExceptOnCreate is Retain from then on."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[_moto_account()][REGION]
    (stack,) = [s for s in backend.stacks.values() if s.name == ctx.stack_name]
    for resource in stack.resource_map._resource_json_map.values():
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
            resource["DeletionPolicy"] = "Retain"


def _nothing(ctx: Context) -> list[str]:
    return []


ADAPTATIONS: list[Adaptation] = [
    Adaptation(
        "moto's CloudFormation creates the types below with the drill's models (DRILL_MODELS), through "
        "moto's own API, in the stack's order, with CloudFormation's Ref and Fn::GetAtt",
        "a type moto cannot create would be skipped with a warning (and Ref to it would give nothing)",
        _nothing,
        server=_drill_models,
    ),
    *(Adaptation(f"{m.type}: {m.what}", m.why, _of_type(m.type)) for m in DRILL_MODELS),
    Adaptation(
        "AWS::DynamoDB::Table: TimeToLiveSpecification and PointInTimeRecoverySpecification applied with "
        "UpdateTimeToLive and UpdateContinuousBackups after the stack",
        "moto's CloudFormation ignores both (it applies SSE and DeletionProtectionEnabled); moto never "
        "expires TTL items",
        _tables_with_settings,
        created=_apply_table_settings,
    ),
    Adaptation(
        "DeletionPolicy RetainExceptOnCreate: made Retain in moto's copy of a created stack before DeleteStack",
        "moto keeps only 'Retain' on delete; CloudFormation keeps RetainExceptOnCreate resources once the "
        "stack was created, and deletes them only when the create itself fails",
        _retain_except_on_create,
        deleting=_keep_retain_except_on_create,
    ),
    Adaptation(
        "A failed create is rolled back by the drill with DeleteStack",
        "moto leaves a failed stack CREATE_IN_PROGRESS with what it created; CloudFormation rolls back "
        "(deleting all but DeletionPolicy Retain). DeleteStack right after the failure is that rollback",
        _nothing,
    ),
    Adaptation(
        "EventBridge schedule rules match no PutEvents entry (moto patched while its server runs)",
        "moto matches every put event against a schedule rule's empty pattern and answers 500 on the Lambda "
        "target, so every notification the functions publish would fail",
        _nothing,
        server=_schedule_rules_match_no_events,
    ),
    Adaptation(
        "Lambda environment values made strings (function_environment)",
        "moto stores a variable set from a Number parameter as an int; CloudFormation and Lambda pass strings",
        _of_type("AWS::Lambda::Function"),
    ),
    Adaptation(
        "Parameters checked against AllowedPattern, AllowedValues, MinLength, MaxLength, MinValue and MaxValue "
        "by the drill",
        "moto does not check them; CloudFormation refuses the create",
        _nothing,
    ),
    Adaptation(
        "The template's Rules evaluated by the drill on the parameters (_check_rules)",
        "moto ignores Rules; CloudFormation refuses the create with the failed assertion's description",
        _nothing,
    ),
    Adaptation(
        "AWS::Lambda::Function: run from the unzipped package in `python -S` with the environment "
        "GetFunctionConfiguration reports plus RUNTIME_ADDITIONS, not invoked",
        "moto invokes functions in Docker; the drill runs the same handler and code without it. Stricter than "
        "Lambda on one point: no boto3 from the runtime (/var/runtime), so the package must carry what it "
        "imports. Not enforced: IAM policies (tests/service/test_least_privilege.py checks them), memory",
        _of_type("AWS::Lambda::Function"),
    ),
    Adaptation(
        "API requests: REST proxy events built by the drill, routed against the resources and methods of the "
        "deployed API, fed to the API function",
        "moto's API Gateway cannot invoke a Lambda proxy integration without Docker; its throttling, gateway "
        "responses and access logs are not exercised",
        _of_type("AWS::ApiGateway::RestApi"),
    ),
]


def describe_runtime_additions() -> str:
    return "\n".join(f"    {name}: {why}" for name, (_, why) in RUNTIME_ADDITIONS.items())


def describe_adaptations(ctx: Context | None = None) -> str:
    lines = []
    for i, a in enumerate(ADAPTATIONS, 1):
        touched = ctx.touched.get(a.what, []) if ctx else None
        suffix = f"  [{len(touched)}: {', '.join(touched[:6])}{' ...' if len(touched) > 6 else ''}]" if touched else ""
        lines.append(f"{i:2}. {a.what}{suffix}\n    why: {a.why}")
    return "\n".join(lines)


def _physical_ids(ctx: Context) -> dict[str, str]:
    cfn = ctx.client("cloudformation")
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=ctx.stack_name)
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for page in pages for r in page["StackResourceSummaries"]}


def check_supported(template: dict[str, Any]) -> None:
    """Every resource type left is one moto's CloudFormation creates, else the drill fails."""
    from moto.cloudformation.parsing import get_model_map

    supported = set(get_model_map())
    unknown: dict[str, list[str]] = {}
    for lid, resource in template["Resources"].items():
        if resource["Type"] not in supported:
            unknown.setdefault(resource["Type"], []).append(lid)
    if unknown:
        listed = "; ".join(f"{t} ({', '.join(lids)})" for t, lids in sorted(unknown.items()))
        raise DrillError(
            f"moto's CloudFormation cannot create {listed}: add an adaptation for each type to "
            "ADAPTATIONS in tests/infra/drill.py, with why"
        )


# --- 4. the stack -------------------------------------------------------------------------------


@dataclass
class Drill:
    """One deployment target: moto at ``endpoint``, the package in ``package_dir``."""

    endpoint: str
    package_dir: Path
    alarm_topic_arn: str = ""
    task_root: Path | None = None
    notification_queue: str = ""
    sam: dict[str, Any] = field(default_factory=dict)
    _translated: dict[tuple, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def prepare(cls, endpoint: str, package_dir: Path, task_root: Path | None = None) -> Drill:
        s3 = client(endpoint, "s3")
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        sam = json.loads((package_dir / "sam.json").read_text())
        drill = cls(endpoint, package_dir, sam=upload_code(sam, package_dir, s3, ARTIFACT_BUCKET))
        drill.alarm_topic_arn = client(endpoint, "sns").create_topic(Name="licensing-alarms")["TopicArn"]
        drill.task_root = unzip_read_only(package_dir / "deployment.zip", task_root)
        drill._listen(NOTIFICATION_SOURCE)
        return drill

    def _listen(self, source: str) -> None:
        """Everything the service announces on the default bus lands in a queue of the drill's."""
        sqs, events = client(self.endpoint, "sqs"), client(self.endpoint, "events")
        url = sqs.create_queue(QueueName="drill-notifications")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="drill-notifications", EventPattern=json.dumps({"source": [source]}))
        events.put_targets(Rule="drill-notifications", Targets=[{"Id": "queue", "Arn": arn}])
        self.notification_queue = url

    def notifications(self) -> list[dict[str, Any]]:
        """The service's announcements since the last call (EventBridge events)."""
        sqs, found = client(self.endpoint, "sqs"), []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.notification_queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.notification_queue, ReceiptHandle=message["ReceiptHandle"])

    def parameters(self, **overrides: str) -> dict[str, str]:
        chosen = {"Stage": STAGE, "AlarmTopicArn": self.alarm_topic_arn, "OperatorKeySha256": OPERATOR_KEY_SHA256}
        return parameter_values(self.sam, {**chosen, **overrides})

    def translated(self, parameters: dict[str, str]) -> dict[str, Any]:
        key = tuple(sorted(parameters.items()))
        if key not in self._translated:
            self._translated[key] = translate(self.sam, parameters)
        return copy.deepcopy(self._translated[key])

    def create(self, stack_name: str = STACK_NAME, fail_with: dict[str, Any] | None = None, **overrides: str) -> Stack:
        """Create the stack. ``fail_with``: a resource added to the template to make the create
        fail (the drill's forced failure). A failure raises DrillError after the rollback."""
        parameters = self.parameters(**overrides)
        original = self.translated(parameters)
        ctx = Context(self.endpoint, stack_name, copy.deepcopy(original), original)
        for adaptation in ADAPTATIONS:
            ctx.touched[adaptation.what] = adaptation.template(ctx)
        if fail_with:
            ctx.template["Resources"].update(fail_with)
        check_supported(ctx.template)
        body = json.dumps(ctx.template)
        key = f"templates/{stack_name}-{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
        client(self.endpoint, "s3").put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=body.encode())
        cfn = ctx.client("cloudformation")
        try:
            cfn.create_stack(
                StackName=stack_name,
                TemplateURL=f"https://{ARTIFACT_BUCKET}.s3.amazonaws.com/{key}",
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        except Exception as e:  # the create failed: roll back as CloudFormation would
            with contextlib.suppress(Exception):
                cfn.delete_stack(StackName=stack_name)
            raise DrillError(f"creating {stack_name} failed: {_reason(e)}") from e
        status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
        if status != "CREATE_COMPLETE":
            raise DrillError(f"{stack_name}: {status}")
        for adaptation in ADAPTATIONS:
            if adaptation.created:
                adaptation.created(ctx)
        return Stack(self, ctx, parameters, len(body))


def _reason(error: Exception) -> str:
    """The service's message in a failed CreateStack (moto answers a nested service's error, such
    as DynamoDB's JSON, in its own body, which botocore cannot parse as CloudFormation's XML)."""
    text = str(error)
    nested = re.search(r'"__type": "[^"]*#(\w+)", "message": "([^"]*)"', text)
    return f"{nested.group(1)}: {nested.group(2)}" if nested else text


@dataclass
class Stack:
    drill: Drill
    ctx: Context
    parameters: dict[str, str]
    template_bytes: int
    _functions: dict[str, Function] = field(default_factory=dict)
    invoked: dict[str, int] = field(default_factory=dict)  # logical id -> invocations, every container

    @property
    def name(self) -> str:
        return self.ctx.stack_name

    def outputs(self) -> dict[str, str]:
        stack = self.ctx.client("cloudformation").describe_stacks(StackName=self.name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def physical_ids(self) -> dict[str, str]:
        return _physical_ids(self.ctx)

    def function_ids(self) -> dict[str, str]:
        """Logical id -> function name, for every Lambda function the stack created."""
        physical = self.physical_ids()
        return {lid: physical[lid] for lid in self.ctx.resources_of("AWS::Lambda::Function") if lid in physical}

    def function(self, logical_id: str) -> Function:
        """The function's warm container (a new one once the last was closed)."""
        if logical_id not in self._functions or self._functions[logical_id].closed:
            name = self.function_ids()[logical_id]
            conf = self.ctx.client("lambda").get_function_configuration(FunctionName=name)
            self._functions[logical_id] = Function(self, conf, logical_id)
        return self._functions[logical_id]

    def close(self) -> None:
        for function in self._functions.values():
            function.close()
        self._functions.clear()

    def delete(self) -> None:
        self.close()
        for adaptation in ADAPTATIONS:
            if adaptation.deleting:
                adaptation.deleting(self.ctx)
        cfn = self.ctx.client("cloudformation")
        cfn.delete_stack(StackName=self.name)


# --- 6. the functions, run from the package -------------------------------------------------------

# Fed one JSON event per line on stdin, answers one JSON line per event on the file descriptor
# that was stdout; the handler's own prints and logs go to stderr. A warm container: the
# module is imported once.
RUNNER = r"""
import importlib, json, os, sys, time, traceback
answers = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
task_root, handler, function_arn, timeout_s = sys.argv[1:5]
sys.path.insert(0, task_root)
module_name, _, attribute = handler.rpartition(".")
started = time.monotonic()
try:
    function = getattr(importlib.import_module(module_name), attribute)
    init_error = None
except Exception:
    init_error = traceback.format_exc()
init_s = time.monotonic() - started

class Context:
    def __init__(self, request_id):
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = function_arn
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "drill"
        self._deadline = time.monotonic() + float(timeout_s)
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

for line in sys.stdin:
    request = json.loads(line)
    if init_error:
        answers.write(json.dumps({"error": init_error, "init_s": init_s}) + "\n")
        answers.flush()
        continue
    try:
        result = function(request["event"], Context(request["request_id"]))
        answer = {"result": result, "init_s": init_s}
    except Exception:
        answer = {"error": traceback.format_exc(), "init_s": init_s}
    sys.stdout.flush()  # what the handler printed (metrics) is in the log before the answer
    sys.stderr.flush()
    answers.write(json.dumps(answer, default=str) + "\n")
    answers.flush()
"""


def unzip_read_only(zip_path: Path, task_root: Path | None = None) -> Path:
    """The package unzipped to ``task_root`` (a fresh directory by default), without write bits
    (as /var/task)."""
    task_root = task_root or Path(tempfile.mkdtemp(prefix="drill-task-"))
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(task_root)
    subprocess.run(["chmod", "-R", "a-w", str(task_root)], check=True)
    return task_root


_READ_ONLY_MOUNT = [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    'mount --bind -o ro "$0" "$0" && exec "$@"',
]


def read_only_command(task_root: Path, command: list[str]) -> list[str]:
    """``command`` with ``task_root`` read-only to it. Root ignores write bits, so as root the
    command runs in its own mount namespace where ``task_root`` is bind-mounted read-only: a
    write fails with EROFS as on Lambda (a module that writes beside itself, bytecode caches)."""
    if os.geteuid() != 0:
        return command
    probe = subprocess.run([*_READ_ONLY_MOUNT, str(task_root), "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise DrillUnavailable(
            f"running as root, the drill needs unshare and mount to make the package read-only "
            f"(root ignores write bits): {probe.stderr.strip()}"
        )
    return [*_READ_ONLY_MOUNT, str(task_root), *command]


def written_to(task_root: Path, zip_path: Path) -> set[str]:
    """What is in ``task_root`` that the zip did not put there."""
    with zipfile.ZipFile(zip_path) as z:
        shipped = {name.rstrip("/") for name in z.namelist()}
    shipped |= {str(Path(name).parent) for name in list(shipped)} | {
        str(parent) for name in list(shipped) for parent in Path(name).parents
    }
    return {str(p.relative_to(task_root)) for p in task_root.rglob("*")} - shipped


def function_environment(configuration: dict[str, Any]) -> dict[str, str]:
    """The function's variables as Lambda gives them: strings. moto keeps what the template
    resolved to, an int for a Number parameter (see ADAPTATIONS)."""
    variables = configuration.get("Environment", {}).get("Variables", {})
    return {name: value if isinstance(value, str) else json.dumps(value) for name, value in variables.items()}


# Lambda gives a function's init phase (the imports of a cold start) up to 10 s of its own.
INIT_LIMIT_S = 10


class Function:
    """One function's handler from the unzipped package, in its own ``python -S`` process with
    the environment the stack gave it: a warm Lambda container, fed events one at a time."""

    def __init__(self, stack: Stack, configuration: dict[str, Any], logical_id: str) -> None:
        self.stack, self.logical_id = stack, logical_id
        self.configuration = configuration
        self.name = configuration["FunctionName"]
        self.handler = configuration["Handler"]
        self.environment = function_environment(configuration)
        self.task_root = stack.drill.task_root
        self.env = dict(self.environment)
        for variable, (value, _why) in RUNTIME_ADDITIONS.items():
            self.env[variable] = value(configuration, stack.ctx.endpoint, self.task_root)
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - open while the object lives
        self.process: subprocess.Popen | None = None  # started by the first invocation (a cold start)
        self.invocations = 0
        self.init_s: float | None = None

    def _start(self) -> subprocess.Popen:
        command = [
            sys.executable,
            "-S",
            "-c",
            RUNNER,
            str(self.task_root),
            self.handler,
            self.configuration["FunctionArn"],
            str(self.configuration.get("Timeout", 3)),
        ]
        return subprocess.Popen(
            read_only_command(self.task_root, command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=self.env,
            cwd=self.task_root,
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's answer to ``event``; DrillError with its traceback if it raised."""
        if self.process is None:
            self.process = self._start()
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"event": event, "request_id": str(uuid.uuid4())}) + "\n")
        self.process.stdin.flush()
        # Lambda stops a function at its Timeout; the first invocation also has its init phase.
        limit = float(self.configuration.get("Timeout", 3)) + (INIT_LIMIT_S if self.invocations == 0 else 1)
        if not select.select([self.process.stdout], [], [], limit)[0]:
            self.process.kill()
            raise DrillError(
                f"{self.name} ({self.handler}) did not answer within {limit:.0f} s (its Timeout is "
                f"{self.configuration.get('Timeout', 3)} s):\n{self.log()[-3000:]}"
            )
        line = self.process.stdout.readline()
        if not line:
            raise DrillError(f"{self.name} ({self.handler}) died:\n{self.log()[-4000:]}")
        answer = json.loads(line)
        self.invocations += 1
        self.stack.invoked[self.logical_id] = self.stack.invoked.get(self.logical_id, 0) + 1
        self.init_s = answer["init_s"]
        if "error" in answer:
            raise DrillError(f"{self.name} ({self.handler}) raised:\n{answer['error']}\nlog:\n{self.log()[-3000:]}")
        return answer["result"]

    def log(self) -> str:
        self.stderr.seek(0)
        text = self.stderr.read()
        self.stderr.seek(0, 2)
        return text

    @property
    def closed(self) -> bool:
        return self.process is not None and (
            self.process.poll() is not None or self.process.stdin is None or self.process.stdin.closed
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- events -----------------------------------------------------------------------------------


def scheduled_event(at: str, rule_arn: str = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/drill") -> dict[str, Any]:
    """An EventBridge scheduled event whose ``time`` is ``at`` (RFC 3339)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": at,
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }


def route_for(paths: list[str], path: str) -> tuple[str, dict[str, str]] | None:
    """The API's route template that ``path`` matches, with its path parameters, as API Gateway
    matches them (a literal segment wins over a parameter)."""
    segments = path.strip("/").split("/")
    best = None
    for template in paths:
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        params, literal = {}, 0
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = segment
            elif part == segment:
                literal += 1
            else:
                break
        else:
            if best is None or literal > best[0]:
                best = (literal, template, params)
    return (best[1], best[2]) if best else None


def rest_event(
    method: str,
    path: str,
    route: str,
    path_params: dict[str, str],
    stage: str,
    headers: dict[str, str],
    body: str | None,
    api_id: str,
) -> dict[str, Any]:
    """An API Gateway REST API proxy event (payload format 1.0), as the gateway sends it."""
    path_only, _, query = path.partition("?")
    multi_query: dict[str, list[str]] = {}
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        multi_query.setdefault(name, []).append(value)
    now = time.time()
    return {
        "resource": route,
        "path": path_only,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "drill",
            "resourcePath": route,
            "httpMethod": method,
            "path": f"/{stage}{path_only}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "protocol": "HTTP/1.1",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "domainName": f"{api_id}.execute-api.{REGION}.amazonaws.com",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "drill/1.0"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """The deployed API as API Gateway would call it: the path matched against the resources of
    the stack's API, the method's integration naming the function, the proxy event built, and
    that function run from the package."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.apigw = stack.ctx.client("apigateway")
        (api_lid,) = stack.ctx.resources_of("AWS::ApiGateway::RestApi")
        self.api_id = stack.physical_ids()[api_lid]
        resources = self.apigw.get_resources(restApiId=self.api_id, limit=500)["items"]
        self.routes = {r["path"]: set(r.get("resourceMethods", {})) for r in resources}
        self._resource_ids = {r["path"]: r["id"] for r in resources}
        stages = self.apigw.get_stages(restApiId=self.api_id)["item"]
        named = [s["stageName"] for s in stages if s["stageName"] != "Stage"]  # SAM's Deployment makes "Stage"
        self.stage = named[0] if named else "v1"
        self._functions = {name: lid for lid, name in stack.function_ids().items()}
        self._integrations: dict[tuple[str, str], str] = {}

    def function_for(self, route: str, method: str) -> Function:
        """The function the integration of ``method`` on ``route`` invokes (aws_proxy)."""
        key = (route, method)
        if key not in self._integrations:
            integration = self.apigw.get_integration(
                restApiId=self.api_id, resourceId=self._resource_ids[route], httpMethod=method
            )
            found = re.search(r"functions/arn:aws:lambda:[^:]+:\d+:function:([^:/]+)", integration["uri"])
            if integration["type"] != "AWS_PROXY" or not found or found.group(1) not in self._functions:
                raise DrillError(
                    f"{method} {route} is integrated with {integration['uri']} "
                    f"({integration['type']}), not a function of the stack"
                )
            self._integrations[key] = self._functions[found.group(1)]
        return self.stack.function(self._integrations[key])

    @property
    def function(self) -> Function:
        """The function behind GET /v1/health (Chalice has one function for every route)."""
        return self.function_for(route_for(list(self.routes), "/v1/health")[0], "GET")

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        matched = route_for(list(self.routes), path.partition("?")[0])
        if matched is None or not ({method, "ANY"} & self.routes[matched[0]]):
            raise DrillError(f"the deployed API has no route for {method} {path}")
        route, params = matched
        all_headers = {
            "Host": f"{self.api_id}.execute-api.{REGION}.amazonaws.com",
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if body is not None else {}),
            **(headers or {}),
        }
        event = rest_event(
            method,
            path,
            route,
            params,
            self.stage,
            all_headers,
            json.dumps(body) if body is not None else None,
            self.api_id,
        )
        function = self.function_for(route, method if method in self.routes[route] else "ANY")
        answer = function.invoke(event)
        text = answer.get("body") or ""
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(int(answer["statusCode"]), parsed, dict(answer.get("headers") or {}))

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)


__doc__ = __doc__.format(adaptations=describe_adaptations(), additions=describe_runtime_additions())
