"""The operator's procedures of docs/DEPLOY.md that are code: restoring a stage's data to a point
in time as a new stage (infra/restore.py) and replaying failed scheduled runs (infra/replay.py),
on moto. moto's point-in-time restore copies the table as it is now (it keeps no history), so
this proves our side: every table restored under the new stage's names, with what a restore
loses given back, and the signing key carried over; the choice of the second is DynamoDB's."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from infra import replay, restore

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _stage_with_data(session, stage: str) -> None:
    dynamodb = session.client("dynamodb")
    for spec in restore.table_specs():
        name = f"licensing-{stage}-{spec.suffix}"
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        dynamodb.put_item(TableName=name, Item={"pk": {"S": f"{spec.suffix}-item"}})
    for name in restore.SECRETS:
        session.client("secretsmanager").create_secret(Name=name.format(stage=stage), SecretString=f"{name} of {stage}")


def test_a_restore_makes_every_table_and_the_key_of_a_new_stage(aws):
    _stage_with_data(aws, "prod")
    dynamodb, secrets = aws.client("dynamodb"), aws.client("secretsmanager")

    restored = restore.run(dynamodb, secrets, "prod", "prod2", AT, say=lambda _: None)

    assert sorted(restored) == sorted(f"licensing-prod2-{s.suffix}" for s in restore.table_specs())
    for spec in restore.table_specs():
        name = f"licensing-prod2-{spec.suffix}"
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert dynamodb.get_item(TableName=name, Key={"pk": {"S": f"{spec.suffix}-item"}}).get("Item"), name
        assert table["DeletionProtectionEnabled"] is True, name
        backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED", name
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert (ttl.get("TimeToLiveStatus") == "ENABLED") == (spec.ttl_attribute is not None), name
        tags = dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
        assert {"Key": "stage", "Value": "prod2"} in tags
    for name in restore.SECRETS:  # the lease keys and the cursor key
        assert (
            secrets.get_secret_value(SecretId=name.format(stage="prod2"))["SecretString"]
            == secrets.get_secret_value(SecretId=name.format(stage="prod"))["SecretString"]
        )
    # The source is untouched.
    assert dynamodb.describe_table(TableName="licensing-prod-devices")["Table"]["ItemCount"] >= 0


def test_a_restore_run_again_continues_and_never_overwrites(aws):
    _stage_with_data(aws, "prod")
    dynamodb, secrets = aws.client("dynamodb"), aws.client("secretsmanager")
    said: list[str] = []
    restore.run(dynamodb, secrets, "prod", "prod2", AT, say=lambda _: None)

    again = restore.run(dynamodb, secrets, "prod", "prod2", AT, say=said.append)

    assert len(again) == len(restore.table_specs())
    assert sum("already restored" in line for line in said) == len(again)
    with pytest.raises(restore.RestoreError, match="new stage"):
        restore.run(dynamodb, secrets, "prod", "prod", AT)
    _stage_with_data(aws, "other")  # tables of another stage, not restores of prod's
    with pytest.raises(restore.RestoreError, match="not a restore"):
        restore.run(dynamodb, secrets, "prod", "other", AT)


def test_a_restore_of_a_stage_that_does_not_exist_says_so(aws):
    with pytest.raises(restore.RestoreError, match="does not exist"):
        restore.run(aws.client("dynamodb"), aws.client("secretsmanager"), "nope", "nope2", AT)


class FakeLambda:
    """Lambda's invoke (moto runs functions only in Docker): records the events; ``failing``
    names event times whose run fails."""

    def __init__(self, failing: set[str]):
        self.failing, self.invoked = failing, []

    def invoke(self, FunctionName, InvocationType, Payload):
        event = json.loads(Payload)
        self.invoked.append((FunctionName, event["time"]))
        if event["time"] in self.failing:
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorMessage": "boom"}')}
        return {"Payload": io.BytesIO(b"{}")}


def _event(at: str) -> dict:
    return {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "time": at, "detail": {}}


def test_failed_runs_are_replayed_as_of_their_own_time_and_kept_until_they_succeed(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="meter-usage-failures")["QueueUrl"]
    # Lambda's on-failure record (after its retries) and EventBridge's dead letter (not delivered).
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(
            {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": _event("2026-11-30T07:05:00Z")}
        ),
    )
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(_event("2026-11-30T08:05:00Z")))
    lambda_ = FakeLambda(failing={"2026-11-30T08:05:00Z"})

    succeeded, failed = replay.replay_queue(sqs, lambda_, "fn", url, say=lambda _: None)

    assert (succeeded, failed) == (1, 1)
    assert sorted(lambda_.invoked) == [("fn:live", "2026-11-30T07:05:00Z"), ("fn:live", "2026-11-30T08:05:00Z")]
    left = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages"]
    )["Attributes"]
    assert int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) == 1
