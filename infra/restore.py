"""``python -m infra.restore --stage prod --into prod2 --at 2026-11-30T09:00:00Z``: the data of
one stage, as it was at one point in time, as the data of a new stage.

Every table of the stage is restored to the same second (DynamoDB point-in-time recovery) under
the new stage's names, given back what a restore does not carry over (TTL, point-in-time
recovery, deletion protection, tags), and the secrets are copied, so the leases and device tokens
LoadMasters hold, and the paging cursors clients hold, stay valid. Then ``make deploy STAGE=<into> EXISTING_DATA=true``
runs the new stage on that data, and the switch moves the custom domain to it (docs/DEPLOY.md,
"Restore"). Running it again continues where it stopped: a table already restored from the same
source is kept.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SECRETS = ("licensing/{stage}/lease-signing-key", "licensing/{stage}/cursor-key")


class RestoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class TableSpec:
    suffix: str
    ttl_attribute: str | None


def table_specs() -> list[TableSpec]:
    from chalicelib.store.models import ALL_MODELS
    from infra.template import table_suffix

    specs = []
    for model in ALL_MODELS:
        ttl = model._ttl_attribute()
        specs.append(TableSpec(table_suffix(model), ttl.attr_name if ttl is not None else None))
    return specs


def _table_name(stage: str, suffix: str) -> str:
    return f"licensing-{stage}-{suffix}"


def _describe(dynamodb, name: str) -> dict[str, Any] | None:
    try:
        return dynamodb.describe_table(TableName=name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        return None


def restore_table(dynamodb, stage: str, into: str, spec: TableSpec, at: datetime, say=print) -> str:
    source, target = _table_name(stage, spec.suffix), _table_name(into, spec.suffix)
    found = _describe(dynamodb, source)
    if found is None:
        raise RestoreError(f"{source} does not exist: is {stage!r} the stage's name?")
    existing = _describe(dynamodb, target)
    if existing is not None:
        if existing.get("RestoreSummary", {}).get("SourceTableArn") != found["TableArn"]:
            raise RestoreError(f"{target} exists and is not a restore of {source}: choose another --into")
        say(f"{target}: already restored from {source}")
    else:
        dynamodb.restore_table_to_point_in_time(
            SourceTableName=source,
            TargetTableName=target,
            RestoreDateTime=at,
            BillingModeOverride="PAY_PER_REQUEST",
            SSESpecificationOverride={"Enabled": True},
        )
        say(f"{target}: restoring {source} as of {at.isoformat()}")
    dynamodb.get_waiter("table_exists").wait(TableName=target, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
    # What a restore does not carry over.
    if spec.ttl_attribute:
        ttl = dynamodb.describe_time_to_live(TableName=target)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(
                TableName=target, TimeToLiveSpecification={"AttributeName": spec.ttl_attribute, "Enabled": True}
            )
    dynamodb.update_continuous_backups(
        TableName=target, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    arn = dynamodb.describe_table(TableName=target)["Table"]["TableArn"]
    dynamodb.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "service", "Value": "licensing"}, {"Key": "stage", "Value": into}]
    )
    dynamodb.update_table(TableName=target, DeletionProtectionEnabled=True)
    return target


def copy_secret(secrets, name: str, stage: str, into: str, say=print) -> None:
    value = secrets.get_secret_value(SecretId=name.format(stage=stage))["SecretString"]
    target = name.format(stage=into)
    try:
        current = secrets.get_secret_value(SecretId=target)["SecretString"]
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(
            Name=target,
            SecretString=value,
            Tags=[{"Key": "service", "Value": "licensing"}, {"Key": "stage", "Value": into}],
        )
        say(f"{target}: copied from {name.format(stage=stage)}")
        return
    if current != value:
        raise RestoreError(f"{target} exists with other keys: choose another --into")
    say(f"{target}: already copied")


def run(dynamodb, secrets, stage: str, into: str, at: datetime, say=print) -> list[str]:
    if into == stage:
        raise RestoreError("--into must name a new stage: the restore never overwrites the tables it reads")
    restored = [restore_table(dynamodb, stage, into, spec, at, say) for spec in table_specs()]
    for name in SECRETS:
        copy_secret(secrets, name, stage, into, say)
    say(
        f"Restored {len(restored)} tables as of {at.isoformat()}. Next: make deploy STAGE={into} "
        "EXISTING_DATA=true ..., check it, then move the domain (docs/DEPLOY.md, 'Restore')."
    )
    return restored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="the stage whose data is restored")
    parser.add_argument("--into", required=True, help="the new stage that gets the restored data")
    parser.add_argument(
        "--at",
        required=True,
        type=datetime.fromisoformat,
        help="the point in time, e.g. 2026-11-30T09:00:00+00:00 (within the last 35 days)",
    )
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    if args.at.tzinfo is None:
        parser.error("--at needs a time zone, e.g. +00:00")
    import boto3

    session = boto3.Session(region_name=args.region)
    try:
        run(session.client("dynamodb"), session.client("secretsmanager"), args.stage, args.into, args.at)
    except RestoreError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
