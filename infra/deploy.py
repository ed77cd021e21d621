"""``python -m infra.deploy``: put a package built by ``infra.build`` on AWS as the stack
``licensing-<stage>``; ``make deploy`` runs it. docs/DEPLOY.md is the operator's guide.

What it does, each step safe to run again:

1. uploads the zip to the bucket under its hash (an unchanged zip is not uploaded again);
2. translates the SAM template to CloudFormation here, with the translator CloudFormation itself
   runs (aws-sam-translator), and uploads it: the template is over the 51,200 bytes CloudFormation
   takes inline;
3. creates or updates the stack through a change set. A new stack is created with the tables'
   deletion protection off, so a failed first create leaves nothing behind, and then protected by
   an update; a stack whose first create failed is deleted first; an update with nothing to
   change succeeds and says so. A new stack with ``ExistingData=true`` takes over the kept
   accounts user pool, found by its stage's name unless ``ExistingUserPoolId`` names it;
4. puts a fresh lease-signing key into the secret the first time (the stack creates it with a
   placeholder the service refuses);
5. prints the URLs LoadMasters (the HTTP API, or the function URL with
   ``DEVICE_FRONT_DOOR=FunctionUrl``: ``DeviceApiUrl``) and the console and CLI (the REST API:
   ``ApiUrl``) use.

A failed step prints CloudFormation's reasons and what to do about each one it recognises.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CODE_PREFIX = "licensing/code/"
TEMPLATE_PREFIX = "licensing/templates/"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]

# What an operator can do about a failure CloudFormation reports, by a phrase of its reason.
HINTS = {
    "already exists": "the data of an earlier stack of this stage is still there (kept when it was deleted): "
    "deploy with EXISTING_DATA=true to take it over (docs/DEPLOY.md, 'Create again').",
    "CloudWatch Logs role ARN must be set": "API Gateway has no CloudWatch role in this region: deploy with "
    "MANAGE_API_GATEWAY_ACCOUNT=true.",
    "Certificate": "the certificate must be an issued ACM certificate for DOMAIN_NAME (and DEVICE_DOMAIN_NAME: "
    "one certificate naming both, or a wildcard) in the stack's region.",
    "ConcurrentExecutions": "the account's Lambda concurrency quota is too low (new accounts have 10): ask for "
    "1000 in Service Quotas (docs/DEPLOY.md, 'Quotas').",
    "is not authorized": "the credentials deploying lack a permission named in the reason above.",
    "Insufficient permissions to enable logging": "the HTTP API's access log is a log delivery: the credentials "
    "deploying need logs:CreateLogDelivery, GetLogDelivery, "
    "UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, "
    "PutResourcePolicy, DescribeResourcePolicies and DescribeLogGroups.",
    "deletion protection": "a table is protected: turn protection off only if you mean to delete it "
    "(docs/DEPLOY.md, 'Delete').",
}


class DeployError(RuntimeError):
    """A step failed; the message says what happened and what to do."""


@dataclass
class Clients:
    cloudformation: Any
    s3: Any
    secretsmanager: Any
    cognito: Any = None  # finds the kept accounts pool for ExistingData=true (kept_user_pool)

    @classmethod
    def from_session(cls, session) -> Clients:
        return cls(
            session.client("cloudformation"),
            session.client("s3"),
            session.client("secretsmanager"),
            session.client("cognito-idp"),
        )


@dataclass
class Request:
    stage: str
    bucket: str
    package: Path
    parameters: dict[str, str] = field(default_factory=dict)  # what the operator passed; others keep their value

    @property
    def stack(self) -> str:
        return f"licensing-{self.stage}"


# --- 1 and 2: the code and the template in the bucket ----------------------------------------


def _upload(s3, bucket: str, key: str, body: bytes) -> None:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError:
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def upload_code(sam: dict[str, Any], package: Path, s3, bucket: str) -> dict[str, Any]:
    """``sam`` with the zip in the bucket (keyed by its SHA-256) as every function's code."""
    body = (package / "deployment.zip").read_bytes()
    key = f"{CODE_PREFIX}{hashlib.sha256(body).hexdigest()}.zip"
    _upload(s3, bucket, key, body)
    sam = json.loads(json.dumps(sam))
    for resource in sam["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
    return sam


def translate(sam: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The SAM template as CloudFormation. SAM reads some parameters when it translates (the
    deployment type), so the values the stack will have are passed."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator({}, Parser(), boto_session=boto3.Session(region_name=region))
    return translator.translate(sam, parameter_values=parameters, get_managed_policy_map=lambda: {})


def upload_template(template: dict[str, Any], s3, bucket: str) -> str:
    body = json.dumps(template, sort_keys=True).encode()
    key = f"{TEMPLATE_PREFIX}{hashlib.sha256(body).hexdigest()}.json"
    _upload(s3, bucket, key, body)
    return f"https://{bucket}.s3.amazonaws.com/{key}"


# --- 3: the stack ----------------------------------------------------------------------------


def stack_status(cfn, stack: str) -> str | None:
    try:
        (found,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    except cfn.exceptions.ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return found["StackStatus"]


def resolved_parameters(template: dict[str, Any], chosen: dict[str, str], previous: dict[str, str]) -> dict[str, str]:
    """The value each parameter will have: chosen, else the stack's current one, else the default."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        value = chosen.get(name, previous.get(name, spec.get("Default")))
        if value is None:
            raise DeployError(f"the stack needs a value for {name}: see docs/DEPLOY.md, 'First deployment'")
        values[name] = str(value)
    return values


def _change_set(
    clients: Clients, request: Request, url: str, parameters: dict[str, str], kind: str, keep: set[str]
) -> str | None:
    """Create a change set; its id, or None when it changes nothing. The parameters in ``keep``
    keep the stack's current value (a secret one reads back only as asterisks)."""
    cfn = clients.cloudformation
    name = f"deploy-{uuid.uuid4().hex[:16]}"
    spec = []
    for key, value in parameters.items():
        if key in keep:
            spec.append({"ParameterKey": key, "UsePreviousValue": True})
        else:
            spec.append({"ParameterKey": key, "ParameterValue": value})
    created = cfn.create_change_set(
        StackName=request.stack,
        ChangeSetName=name,
        TemplateURL=url,
        Parameters=spec,
        Capabilities=CAPABILITIES,
        ChangeSetType=kind,
        Tags=[{"Key": "service", "Value": "licensing"}, {"Key": "stage", "Value": request.stage}],
    )
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=created["Id"], StackName=request.stack, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
        )
    except Exception as error:  # a waiter failure: the change set says why
        described = cfn.describe_change_set(ChangeSetName=created["Id"], StackName=request.stack)
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            cfn.delete_change_set(ChangeSetName=created["Id"], StackName=request.stack)
            return None
        raise DeployError(f"CloudFormation refused the change: {reason or error}") from error
    return created["Id"]


def _execute(clients: Clients, request: Request, change_set: str, kind: str) -> None:
    cfn = clients.cloudformation
    cfn.execute_change_set(ChangeSetName=change_set, StackName=request.stack)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=request.stack, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
    except Exception as error:
        raise DeployError(_failure_report(cfn, request.stack, kind)) from error


def _failure_report(cfn, stack: str, kind: str) -> str:
    try:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    except cfn.exceptions.ClientError:
        events = []
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("FAILED") and e.get("ResourceStatusReason")]
    lines = [
        f"The {kind.lower()} of {stack} failed; CloudFormation rolled it back."
        + (
            " Nothing of it is left: deploy again once the cause is fixed."
            if kind == "CREATE"
            else " The stack runs the previous version."
        )
    ]
    for event in failed[:10]:
        lines.append(f"  {event['LogicalResourceId']}: {event['ResourceStatusReason']}")
        lines.extend(f"    -> {hint}" for phrase, hint in HINTS.items() if phrase in event["ResourceStatusReason"])
    return "\n".join(lines)


def deploy_stack(clients: Clients, request: Request, sam: dict[str, Any], region: str, say=print, adapt=None) -> str:
    """Create or update the stack; ``created``, ``updated`` or ``unchanged``. ``adapt`` changes the
    translated template before it is uploaded (the deploy drill's stand-ins for what moto lacks)."""
    cfn = clients.cloudformation
    status = stack_status(cfn, request.stack)
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"):
        say(f"{request.stack}: its first create did not complete ({status}); deleting what is left of it")
        cfn.delete_stack(StackName=request.stack)
        cfn.get_waiter("stack_delete_complete").wait(StackName=request.stack)
        status = None
    if status is not None and status.endswith("_IN_PROGRESS"):
        raise DeployError(f"{request.stack} is busy ({status}): wait for it to finish, then deploy again.")
    if status == "UPDATE_ROLLBACK_FAILED":
        raise DeployError(
            f"{request.stack} could not roll back its last update: see its events, fix the cause, "
            f"then aws cloudformation continue-update-rollback --stack-name {request.stack}"
        )
    previous = {}
    if status is not None:
        (found,) = cfn.describe_stacks(StackName=request.stack)["Stacks"]
        previous = {p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])}
    sam = upload_code(sam, request.package, clients.s3, request.bucket)
    kind = "CREATE" if status is None else "UPDATE"
    parameters = resolved_parameters(sam, request.parameters, previous)
    if kind == "CREATE":
        # Unprotected until the create has succeeded: a failed create deletes its tables.
        parameters["ProtectData"] = "false"
    template = translate(sam, parameters, region)
    url = upload_template(adapt(template) if adapt else template, clients.s3, request.bucket)
    say(f"{request.stack}: {'creating' if kind == 'CREATE' else 'updating'} (template {url})")
    change_set = _change_set(clients, request, url, parameters, kind, set(previous) - set(request.parameters))
    if change_set is None:
        say(f"{request.stack}: nothing to change; it already runs this package")
        return "unchanged"
    _execute(clients, request, change_set, kind)
    if kind == "CREATE" and request.parameters.get("ProtectData", "true") == "true":
        say(f"{request.stack}: created; turning on the tables' deletion protection")
        parameters["ProtectData"] = "true"
        protect = _change_set(clients, request, url, parameters, "UPDATE", keep=set())
        if protect is not None:
            _execute(clients, request, protect, "UPDATE")
    return "created" if kind == "CREATE" else "updated"


def kept_user_pool(cognito, stage: str, say=print) -> str:
    """The id of the accounts pool an earlier stack of ``stage`` kept (``licensing-<stage>-accounts``):
    a pool has no unique name, so it is found by name and taken only when exactly one has it."""
    name = f"licensing-{stage}-accounts"
    found = [
        p["Id"]
        for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
        for p in page["UserPools"]
        if p["Name"] == name
    ]
    if len(found) != 1:
        which = (
            f"{len(found)} user pools are named {name} ({', '.join(found)})"
            if found
            else f"no user pool is named {name}"
        )
        raise DeployError(
            f"EXISTING_DATA=true takes over the accounts' user pool too, and {which}: give its id as "
            "EXISTING_USER_POOL_ID=<region>_... (docs/DEPLOY.md, 'Delete, and create again')."
        )
    say(f"taking over the user pool {found[0]} ({name})")
    return found[0]


# --- 4 and 5 ---------------------------------------------------------------------------------


def ensure_signing_key(secrets, stage: str, say=print) -> bool:
    """Put a fresh key into the signing-key secret if it still holds the stack's placeholder;
    True if it did. Any other secret is the live keys: one the service cannot load (a broken
    hand edit) is refused with the reason, never replaced, since a fresh key would make every
    device token and every lease in the field unverifiable."""
    from chalicelib.security.signing import new_secret_value, parse_secret
    from infra.rotate_key import secret_id as signing_secret_id
    from infra.template import SECRET_PLACEHOLDER

    secret_id = signing_secret_id(stage)
    current = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    if current == SECRET_PLACEHOLDER:
        secrets.put_secret_value(SecretId=secret_id, SecretString=new_secret_value())
        say(f"{secret_id}: a fresh lease-signing key is in place")
        return True
    try:
        parse_secret(current)
    except (ValueError, KeyError, TypeError) as e:
        raise DeployError(
            f"{secret_id} holds keys the service cannot load ({e.__class__.__name__}: {e}); "
            "repair it (docs/DEPLOY.md, key rotation) or restore its previous version "
            "(AWSPREVIOUS): a fresh key would cut off every LoadMaster"
        ) from None
    return False


def outputs(cfn, stack: str) -> dict[str, str]:
    (found,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def run(clients: Clients, request: Request, region: str, say=print, adapt=None) -> dict[str, str]:
    sam = json.loads((request.package / "sam.json").read_text())
    if (
        request.parameters.get("ExistingData") == "true"
        and not request.parameters.get("ExistingUserPoolId")
        and "ExistingUserPoolId" in sam.get("Parameters", {})
        and clients.cognito is not None
        and stack_status(clients.cloudformation, request.stack) in (None, "ROLLBACK_COMPLETE")
    ):
        request.parameters["ExistingUserPoolId"] = kept_user_pool(clients.cognito, request.stage, say)
    result = deploy_stack(clients, request, sam, region, say, adapt)
    ensure_signing_key(clients.secretsmanager, request.stage, say)
    found = outputs(clients.cloudformation, request.stack)
    say(f"{request.stack}: {result}. Version {found.get('Version', '?')}")
    for key in (
        "ApiUrl",
        "JwksUrl",
        "RegionalDomainName",
        "DeviceApiUrl",
        "DeviceJwksUrl",
        "DeviceRegionalDomainName",
        "DeviceFunctionUrl",
        "UserPoolId",
        "UserPoolClientId",
    ):
        if key in found:
            say(f"  {key:<24} {found[key]}")
    return found


# The make variables an operator sets, and the parameters they become.
VARIABLES = {
    "ALARM_TOPIC_ARN": "AlarmTopicArn",
    "OPERATOR_KEY_SHA256": "OperatorKeySha256",
    "EXISTING_DATA": "ExistingData",
    "LOG_RETENTION_DAYS": "LogRetentionDays",
    "DOMAIN_NAME": "DomainName",
    "CERTIFICATE_ARN": "CertificateArn",
    "HOSTED_ZONE_ID": "HostedZoneId",
    "DEPLOYMENT_TYPE": "DeploymentType",
    "MANAGE_API_GATEWAY_ACCOUNT": "ManageApiGatewayAccount",
    "API_RATE_LIMIT": "ApiRateLimit",
    "API_BURST_LIMIT": "ApiBurstLimit",
    "SWEEP_BATCH": "SweepBatch",
    "EXISTING_USER_POOL_ID": "ExistingUserPoolId",
    "ADVANCED_SECURITY": "AdvancedSecurityMode",
    "SES_IDENTITY_ARN": "SesIdentityArn",
    "EMAIL_FROM": "EmailFrom",
    "DEVICE_DOMAIN_NAME": "DeviceDomainName",
    "DEVICE_API_RATE_LIMIT": "DeviceApiRateLimit",
    "DEVICE_API_BURST_LIMIT": "DeviceApiBurstLimit",
    "ACTIVATION_RATE_LIMIT": "ActivationRateLimit",
    "ACTIVATION_BURST_LIMIT": "ActivationBurstLimit",
    "DEVICE_FRONT_DOOR": "DeviceFrontDoor",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deploy a package to AWS (docs/DEPLOY.md).")
    parser.add_argument("--stage", required=True)
    parser.add_argument("--bucket", required=True, help="S3 bucket for the code and the template")
    parser.add_argument("--package", type=Path, default=ROOT / "out" / "package")
    parser.add_argument("--region", help="default: the AWS CLI's (AWS_DEFAULT_REGION)")
    parser.add_argument(
        "parameters",
        nargs="*",
        metavar="NAME=VALUE",
        help=f"stack parameters, by make variable or parameter name: {', '.join(VARIABLES)}",
    )
    args = parser.parse_args(argv)
    import boto3

    chosen = {"Stage": args.stage}
    for item in args.parameters:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"{item!r} is not NAME=VALUE")
        chosen[VARIABLES.get(name, name)] = value
    session = boto3.Session(region_name=args.region)
    if not session.region_name:
        parser.error("no region: set AWS_DEFAULT_REGION or pass --region")
    try:
        run(Clients.from_session(session), Request(args.stage, args.bucket, args.package, chosen), session.region_name)
    except DeployError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
