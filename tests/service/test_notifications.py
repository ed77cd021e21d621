"""Operator notifications: EventBridge events an operator can route to email or chat."""

import json
from datetime import timedelta

import boto3
import pytest

from tests.conftest import T0, activate, first_type_id


@pytest.fixture
def inbox(aws):
    """An SQS queue behind an EventBridge rule matching the service's events, as an operator
    would route them."""
    sqs, events = boto3.client("sqs", region_name="us-east-1"), boto3.client("events", region_name="us-east-1")
    url = sqs.create_queue(QueueName="ops")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="licensing", EventPattern=json.dumps({"source": ["metered-licensing"]}))
    events.put_targets(Rule="licensing", Targets=[{"Id": "ops", "Arn": arn}])

    def read() -> list[tuple[str, dict]]:
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for m in batch:
                event = json.loads(m["Body"])
                found.append((event["detail-type"], event["detail"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    return read


def test_a_license_type_reaching_its_limit_is_announced(api, trial_tenant, inbox):
    lic_type_id = first_type_id(api, trial_tenant)
    for n in range(4):
        activate(api, trial_tenant, lic_type_id, mac=f"00:50:56:00:60:{n:02x}", ip=f"10.60.0.{n}")
    assert inbox() == []

    activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:60:09", ip="10.60.0.9")

    [(kind, detail)] = inbox()
    assert kind == "License type at limit"
    assert detail["lic_type_id"] == lic_type_id and detail["tenant_id"] == trial_tenant.tenant_id


def test_blocked_and_silent_devices_are_announced(api, trial_tenant, sweep, inbox):
    lic_type_id = first_type_id(api, trial_tenant)
    pending = activate(api, trial_tenant, lic_type_id).body
    active = activate(api, trial_tenant, lic_type_id, mac="00:50:56:00:60:02", ip="10.60.0.2").body
    api.post(
        f"/v1/devices/{active['device_id']}/confirm", headers={"Authorization": f"Device {active['device_token']}"}
    )

    sweep("block_unconfirmed", T0 + timedelta(days=2))
    sweep("deactivate_silent", T0 + timedelta(days=3))

    announced = inbox()
    assert ("Device blocked", pending["device_id"]) in [(k, d["device_id"]) for k, d in announced]
    assert ("Device deactivated as silent", active["device_id"]) in [(k, d["device_id"]) for k, d in announced]


def test_a_trial_is_announced_seven_days_before_its_end_once_and_at_its_end(api, trial_tenant, sweep, inbox):
    sweep("expire_trials", T0 + timedelta(days=22))
    early = inbox()
    sweep("expire_trials", T0 + timedelta(days=23, hours=1))
    sweep("expire_trials", T0 + timedelta(days=23, hours=2))
    warned = inbox()
    sweep("expire_trials", T0 + timedelta(days=30, hours=1))
    ended = inbox()

    assert early == []
    assert [k for k, _ in warned] == ["Trial ends in 7 days"]
    assert warned[0][1]["trial_expires_at"] == "2026-12-28T20:00:00Z"
    assert [k for k, _ in ended] == ["Trial expired"]


def test_a_notification_that_cannot_be_sent_does_not_fail_the_decision(api, trial_tenant, monkeypatch):
    from chalicelib import notifications

    monkeypatch.setattr(notifications, "_events", lambda: (_ for _ in ()).throw(RuntimeError("no EventBridge")))
    lic_type_id = first_type_id(api, trial_tenant)

    replies = [
        activate(api, trial_tenant, lic_type_id, mac=f"00:50:56:00:61:{n:02x}", ip=f"10.61.0.{n}") for n in range(5)
    ]

    assert [r.status for r in replies] == [201] * 5


def test_a_sweep_sends_its_notifications_ten_to_a_call_and_logs_the_one_refused(
    api, licensed_tenant, sweep, monkeypatch, log_lines
):
    # Given twelve silent LoadMasters, and an EventBridge that refuses the third entry of a call
    from chalicelib import notifications

    keys = licensed_tenant(20)
    for n in range(12):
        granted = activate(api, keys, keys.lic_type_id, mac=f"00:50:56:00:62:{n:02x}", ip=f"10.62.0.{n}").body
        api.post(
            f"/v1/devices/{granted['device_id']}/confirm",
            headers={"Authorization": f"Device {granted['device_token']}"},
        )
    calls = []

    class Refusing:
        def put_events(self, Entries):
            calls.append(len(Entries))
            return {
                "FailedEntryCount": 1,
                "Entries": [
                    {"ErrorCode": "InternalFailure"} if i == 2 else {"EventId": "e"} for i in range(len(Entries))
                ],
            }

    monkeypatch.setattr(notifications, "_events", lambda: Refusing())

    # When the silent sweep releases them
    report = sweep("deactivate_silent", T0 + timedelta(days=3))

    # Then two PutEvents calls carried the twelve, and the one refused entry was logged
    refused = [line for line in log_lines if line.get("message") == "notification refused by EventBridge"]
    assert report["acted"] == 12
    assert calls == [10, 2]
    assert [(r["detail_type"], r["error_code"]) for r in refused] == [
        ("Device deactivated as silent", "InternalFailure")
    ]
