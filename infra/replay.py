"""``python -m infra.replay --stage prod``: run again the scheduled runs that failed.

A scheduled run that fails after Lambda's retries (or that EventBridge could not deliver) is kept
in its function's failures queue (14 days), and its queue's alarm fires. Each scheduled function
acts as of its event's ``time``, so running the kept event again does the missed work as of then:
the hour ``meter_usage`` did not meter, the trials ``expire_trials`` did not end. A message is
deleted only once its run succeeded; one that fails again stays for the next try.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

SCHEDULED = ("ExpireTrials", "BlockUnconfirmed", "DeactivateSilent", "MeterUsage")


def kept_event(body: str) -> dict[str, Any]:
    """The scheduled event a failures-queue message holds: Lambda's on-failure record carries it
    as ``requestPayload``; EventBridge's dead-letter message is the event itself."""
    message = json.loads(body)
    return message.get("requestPayload", message)


def queues(cfn, stack: str) -> dict[str, tuple[str, str]]:
    """Scheduled function logical id -> (its function name, its failures queue URL)."""
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
        for r in page["StackResourceSummaries"]
    }
    return {
        lid: (resources[lid], resources[f"{lid}FailuresQueue"])
        for lid in SCHEDULED
        if lid in resources and f"{lid}FailuresQueue" in resources
    }


def replay_queue(sqs, lambda_, function: str, queue_url: str, say=print) -> tuple[int, int]:
    """Replay every message of one queue through the function's live alias; (succeeded, failed).
    A message that fails again stays hidden for the visibility timeout, so one pass sees it once."""
    succeeded = failed = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=300
        ).get("Messages", [])
        if not messages:
            return succeeded, failed
        for message in messages:
            event = kept_event(message["Body"])
            answer = lambda_.invoke(
                FunctionName=f"{function}:live", InvocationType="RequestResponse", Payload=json.dumps(event).encode()
            )
            if answer.get("FunctionError"):
                failed += 1
                say(f"{function} {event.get('time')}: failed again ({answer['Payload'].read()[:200]!r}); kept")
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            succeeded += 1
            say(f"{function} {event.get('time')}: done")


def run(cfn, sqs, lambda_, stage: str, say=print) -> dict[str, tuple[int, int]]:
    results = {}
    for lid, (function, queue_url) in queues(cfn, f"licensing-{stage}").items():
        results[lid] = replay_queue(sqs, lambda_, function, queue_url, say)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    import boto3

    session = boto3.Session(region_name=args.region)
    results = run(session.client("cloudformation"), session.client("sqs"), session.client("lambda"), args.stage)
    for lid, (succeeded, failed) in results.items():
        print(f"{lid}: {succeeded} replayed, {failed} failed again")
    return 1 if any(failed for _, failed in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
