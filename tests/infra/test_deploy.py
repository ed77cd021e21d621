"""``make deploy``'s decisions (infra/deploy.py): what it does on a new stack, on a rerun with
nothing to change, after a failed first create, on a failure, with the parameters an operator
gives or leaves out.

The code and the template go to moto's S3 and the signing key to moto's Secrets Manager.
CloudFormation is a fake that keeps a stack's status and parameters, because moto's
CloudFormation cannot show what these tests need: it never reports an empty change set, cannot
update this template, and does not roll back (the deploy drill, tests/infra/test_deploy_drill.py,
creates the real template on moto). The fake answers as CloudFormation documents it:
an empty change set is FAILED with "didn't contain changes", a failed create ends in
ROLLBACK_COMPLETE, a NoEcho parameter reads back as asterisks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from infra import deploy
from infra.template import SECRET_PLACEHOLDER

KEY_HASH = hashlib.sha256(b"operator key").hexdigest()
FIRST = {"Stage": "prod", "AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:alarms", "OperatorKeySha256": KEY_HASH}


class FakeWaiter:
    def __init__(self, check):
        self.check = check

    def wait(self, **kwargs):
        if not self.check(**kwargs):
            raise WaiterError("fake", "failed", {})


class FakeCloudFormation:
    """One stack: its status, parameters and events; ``fail_with`` makes the next execution fail
    with that reason; ``identical`` makes a change set with the current parameters empty."""

    exceptions = type("Exceptions", (), {"ClientError": ClientError})

    def __init__(self):
        self.status: str | None = None
        self.parameters: dict[str, str] = {}
        self.change_sets: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: str | None = None
        self.events: list[dict[str, Any]] = []
        self.template_url: str | None = None

    def _call(self, name, kwargs):
        self.calls.append((name, kwargs))

    def describe_stacks(self, StackName):
        self._call("describe_stacks", {})
        if self.status is None:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}},
                "DescribeStacks",
            )
        params = [
            {"ParameterKey": k, "ParameterValue": "****" if k == "OperatorKeySha256" else v}
            for k, v in self.parameters.items()
        ]
        # The template's outputs: with DeviceFrontDoor=FunctionUrl, LoadMasters' URL is the function URL.
        device = {"DeviceApiUrl": "https://dev123.execute-api.us-east-1.amazonaws.com"}
        if self.parameters.get("DeviceFrontDoor") == "FunctionUrl":
            device = dict.fromkeys(("DeviceApiUrl", "DeviceFunctionUrl"), "https://abc.lambda-url.us-east-1.on.aws")
        values = {"ApiUrl": "https://licensing.example.com", **device, "Version": "abc"}
        return {
            "Stacks": [
                {
                    "StackName": StackName,
                    "StackStatus": self.status,
                    "Parameters": params,
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in values.items()],
                }
            ]
        }

    def create_change_set(self, **kwargs):
        self._call("create_change_set", kwargs)
        values = {}
        for p in kwargs["Parameters"]:
            values[p["ParameterKey"]] = (
                self.parameters[p["ParameterKey"]] if p.get("UsePreviousValue") else p["ParameterValue"]
            )
        empty = (
            kwargs["ChangeSetType"] == "UPDATE"
            and values == self.parameters
            and kwargs["TemplateURL"] == self.template_url
        )
        change_set_id = f"cs-{len(self.change_sets)}"
        self.change_sets[change_set_id] = {
            "values": values,
            "kind": kwargs["ChangeSetType"],
            "empty": empty,
            "url": kwargs["TemplateURL"],
        }
        if kwargs["ChangeSetType"] == "CREATE":
            self.status = "REVIEW_IN_PROGRESS"
        return {"Id": change_set_id}

    def describe_change_set(self, ChangeSetName, StackName):
        empty = self.change_sets[ChangeSetName]["empty"]
        return {
            "Status": "FAILED" if empty else "CREATE_COMPLETE",
            "StatusReason": "The submitted information didn't contain changes. Submit different information "
            "to create a change set."
            if empty
            else "",
        }

    def delete_change_set(self, ChangeSetName, StackName):
        self._call("delete_change_set", {"ChangeSetName": ChangeSetName})
        del self.change_sets[ChangeSetName]

    def execute_change_set(self, ChangeSetName, StackName):
        change_set = self.change_sets.pop(ChangeSetName)
        self._call("execute_change_set", {"kind": change_set["kind"], "values": change_set["values"]})
        if self.fail_with:
            self.events = [
                {
                    "LogicalResourceId": "DevicesTable",
                    "ResourceStatus": "CREATE_FAILED",
                    "ResourceStatusReason": self.fail_with,
                }
            ]
            self.status = "ROLLBACK_COMPLETE" if change_set["kind"] == "CREATE" else "UPDATE_ROLLBACK_COMPLETE"
            self.fail_with = None
            return
        self.parameters = change_set["values"]
        self.template_url = change_set["url"]
        self.status = "CREATE_COMPLETE" if change_set["kind"] == "CREATE" else "UPDATE_COMPLETE"

    def delete_stack(self, StackName):
        self._call("delete_stack", {})
        self.status, self.parameters, self.template_url = None, {}, None

    def describe_stack_events(self, StackName):
        return {"StackEvents": self.events}

    def get_waiter(self, name):
        done = {
            "change_set_create_complete": lambda **kw: not self.change_sets[kw["ChangeSetName"]]["empty"],
            "stack_create_complete": lambda **kw: self.status == "CREATE_COMPLETE",
            "stack_update_complete": lambda **kw: self.status == "UPDATE_COMPLETE",
            "stack_delete_complete": lambda **kw: self.status is None,
        }
        return FakeWaiter(done[name])

    def executed(self) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == "execute_change_set"]


@pytest.fixture(autouse=True)
def bucket(aws):
    aws.client("s3").create_bucket(Bucket="licensing-deploy")


@pytest.fixture
def cfn():
    return FakeCloudFormation()


def _deploy(aws, cfn, packaged, **parameters) -> tuple[dict[str, str], list[str]]:
    said: list[str] = []
    clients = deploy.Clients(cfn, aws.client("s3"), aws.client("secretsmanager"))
    secret_id = "licensing/prod/lease-signing-key"
    if cfn.status is None:  # the stack's placeholder secret (the fake stack creates nothing)
        with contextlib.suppress(ClientError):
            aws.client("secretsmanager").create_secret(Name=secret_id, SecretString=SECRET_PLACEHOLDER)
    found = deploy.run(
        clients, deploy.Request("prod", "licensing-deploy", packaged, parameters), "us-east-1", say=said.append
    )
    return found, said


def test_a_new_stack_is_created_unprotected_then_protected_and_gets_a_signing_key(aws, cfn, packaged):
    outputs, _said = _deploy(aws, cfn, packaged, **FIRST)

    create, protect = cfn.executed()
    assert (create["kind"], create["values"]["ProtectData"]) == ("CREATE", "false")
    assert (protect["kind"], protect["values"]["ProtectData"]) == ("UPDATE", "true")
    assert cfn.parameters["OperatorKeySha256"] == KEY_HASH
    assert outputs["ApiUrl"] == "https://licensing.example.com"
    from chalicelib.security.signing import parse_secret

    secret = aws.client("secretsmanager").get_secret_value(SecretId="licensing/prod/lease-signing-key")
    assert parse_secret(secret["SecretString"])  # a real key now; the service refused the placeholder
    # The code and the template went through the bucket: the template is too big to go inline.
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket="licensing-deploy")["Contents"]]
    assert any(k.startswith(deploy.CODE_PREFIX) for k in keys)
    assert any(k.startswith(deploy.TEMPLATE_PREFIX) for k in keys)


def test_a_rerun_with_nothing_to_change_succeeds_and_says_so(aws, cfn, packaged):
    _deploy(aws, cfn, packaged, **FIRST)
    executed = len(cfn.executed())
    secret = aws.client("secretsmanager").get_secret_value(SecretId="licensing/prod/lease-signing-key")

    _, said = _deploy(aws, cfn, packaged, Stage="prod")

    assert len(cfn.executed()) == executed
    assert any("nothing to change" in line for line in said)
    # The signing key in place is kept.
    assert (
        aws.client("secretsmanager").get_secret_value(SecretId="licensing/prod/lease-signing-key")["SecretString"]
        == secret["SecretString"]
    )


def test_a_signing_key_secret_the_service_cannot_load_is_refused_never_replaced(aws, cfn, packaged):
    # A hand edit that broke the live keys: a fresh key in their place would make every device
    # token and lease in the field unverifiable, so the deploy stops and says what to repair.
    _deploy(aws, cfn, packaged, **FIRST)
    secrets = aws.client("secretsmanager")
    secret_id = "licensing/prod/lease-signing-key"
    broken = secrets.get_secret_value(SecretId=secret_id)["SecretString"][:-2]
    secrets.put_secret_value(SecretId=secret_id, SecretString=broken)

    with pytest.raises(deploy.DeployError, match="cannot load"):
        _deploy(aws, cfn, packaged, Stage="prod")

    assert secrets.get_secret_value(SecretId=secret_id)["SecretString"] == broken


def test_an_update_keeps_what_the_operator_did_not_give_and_changes_what_it_did(aws, cfn, packaged):
    _deploy(aws, cfn, packaged, **FIRST)

    _deploy(aws, cfn, packaged, Stage="prod", LogRetentionDays="90")

    sent = [kwargs for name, kwargs in cfn.calls if name == "create_change_set"][-1]["Parameters"]
    by_key = {p["ParameterKey"]: p for p in sent}
    assert by_key["LogRetentionDays"] == {"ParameterKey": "LogRetentionDays", "ParameterValue": "90"}
    # The operator key's hash reads back as asterisks: it is kept, never sent as read.
    assert by_key["OperatorKeySha256"] == {"ParameterKey": "OperatorKeySha256", "UsePreviousValue": True}
    assert cfn.parameters["OperatorKeySha256"] == KEY_HASH
    assert cfn.parameters["ProtectData"] == "true"


def test_a_failed_first_create_says_what_to_do_and_the_next_deploy_starts_clean(aws, cfn, packaged):
    cfn.fail_with = 'Resource handler returned message: "Table already exists: licensing-prod-devices"'

    with pytest.raises(deploy.DeployError) as failed:
        _deploy(aws, cfn, packaged, **FIRST)

    message = str(failed.value)
    assert "Nothing of it is left" in message
    assert "Table already exists" in message and "EXISTING_DATA=true" in message
    assert cfn.status == "ROLLBACK_COMPLETE"

    _, said = _deploy(aws, cfn, packaged, **FIRST, ExistingData="true")

    assert any("deleting what is left" in line for line in said)
    assert [name for name, _ in cfn.calls].count("delete_stack") == 1
    assert cfn.status == "UPDATE_COMPLETE" and cfn.parameters["ExistingData"] == "true"


def test_a_busy_stack_is_left_alone(aws, cfn, packaged):
    cfn.status = "UPDATE_IN_PROGRESS"

    with pytest.raises(deploy.DeployError, match="busy"):
        _deploy(aws, cfn, packaged, **FIRST)
    assert not cfn.executed()


def test_a_missing_required_parameter_is_named_before_anything_is_sent(aws, cfn, packaged):
    with pytest.raises(deploy.DeployError, match="AlarmTopicArn"):
        _deploy(aws, cfn, packaged, Stage="prod", OperatorKeySha256=KEY_HASH)
    assert not [name for name, _ in cfn.calls if name == "create_change_set"]


def test_the_command_line_takes_make_variables(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(deploy, "run", lambda clients, request, region, **kw: seen.update(request=request) or {})
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    code = deploy.main(
        [
            "--stage",
            "prod",
            "--bucket",
            "b",
            "--package",
            str(tmp_path),
            "ALARM_TOPIC_ARN=arn:aws:sns:eu-west-1:1:t",
            "DOMAIN_NAME=",
            "LogRetentionDays=7",
            "DEVICE_FRONT_DOOR=FunctionUrl",
        ]
    )

    assert code == 0
    assert seen["request"].parameters == {
        "Stage": "prod",
        "AlarmTopicArn": "arn:aws:sns:eu-west-1:1:t",
        "DomainName": "",
        "LogRetentionDays": "7",
        "DeviceFrontDoor": "FunctionUrl",
    }
    assert json.dumps(sorted(deploy.VARIABLES))  # every make variable maps to a parameter


def test_both_front_doors_are_printed(aws, cfn, packaged):
    _, said = _deploy(aws, cfn, packaged, **FIRST)

    printed = {line.split()[0]: line.split()[1] for line in said if line.startswith("  ")}
    assert printed["ApiUrl"] == "https://licensing.example.com"  # the console, the CLI
    assert printed["DeviceApiUrl"] == "https://dev123.execute-api.us-east-1.amazonaws.com"  # LoadMasters


def test_the_function_url_is_printed_as_the_loadmasters_url(aws, cfn, packaged):
    _, said = _deploy(aws, cfn, packaged, **FIRST, DeviceFrontDoor="FunctionUrl")

    printed = {line.split()[0]: line.split()[1] for line in said if line.startswith("  ")}
    assert printed["DeviceApiUrl"] == printed["DeviceFunctionUrl"] == "https://abc.lambda-url.us-east-1.on.aws"
    assert cfn.parameters["DeviceFrontDoor"] == "FunctionUrl"


def test_every_parameter_an_operator_sets_has_a_make_variable(packaged):
    template = json.loads((packaged / "sam.json").read_text())
    managed = {"Stage", "ProtectData"}  # --stage, and make deploy's own
    assert set(template["Parameters"]) - managed == set(deploy.VARIABLES.values())
