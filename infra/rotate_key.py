"""``python -m infra.rotate_key --stage prod add|activate|retire``: rotate the lease-signing key
in three steps, with no LoadMaster cut off. Each step refuses to run too early and says when it
will be allowed; the secret records when each key was added, made active and replaced.

1. ``add``: a next key goes into the secret. Every container reads the secret again within
   ``SIGNING_KEY_TTL_S`` and publishes the key in the JWKS; LoadMasters keep a JWKS at most its
   ``max-age``. Nothing signs with it yet.
2. ``activate``, once every container and every JWKS in the field has the next key: it signs
   from now on. The replaced key stays published: the leases it signed are still valid, and
   containers that have not read the switch yet still sign with it.
3. ``retire``, once the longest lease the replaced key can have signed has run out: its private
   half leaves the secret's current version (the earlier ones keep it until Secrets Manager
   drops them, past 100 versions) and it leaves the JWKS. Its public half stays in the secret,
   verifying the device tokens it signed (they do not expire; ``chalicelib/security/tokens.py``).

A stage's TTL may be anything up to ``LONGEST_KEY_TTL_S`` and a tenant's ``lease_s`` anything up
to ``LONGEST_LEASE_S``: the waits assume the longest, so they hold whatever was configured.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.security.signing import JWKS_MAX_AGE_S, new_key, parse_secret, public_half
from chalicelib.settings import LONGEST_KEY_TTL_S

# The longest lease_s PATCH /v1/settings accepts (chalicelib/api/schemas.py, Seconds).
LONGEST_LEASE_S = 90 * 86400

# add -> activate: every container has read the next key, and every JWKS fetched before has expired.
PUBLISHED_AFTER = timedelta(seconds=LONGEST_KEY_TTL_S + JWKS_MAX_AGE_S)
# activate -> retire: the last container to read the switch signed its last lease with the
# replaced key a TTL after it, and that lease has run out.
UNUSED_AFTER = timedelta(seconds=LONGEST_KEY_TTL_S + LONGEST_LEASE_S)

STEPS = ("add", "activate", "retire")


class Refused(Exception):
    """The step cannot run on this secret (now, or ever: the message says which)."""


def secret_id(stage: str) -> str:
    return f"licensing/{stage}/lease-signing-key"


def add(doc: dict[str, Any], now: datetime) -> str:
    """Put a next key in ``doc``; the report of what was done."""
    pending = _next_keys(doc)
    if pending:
        raise Refused(f"{pending[0]['kid']} is already the next key: activate it, then add another")
    key = new_key(now=now)
    doc["keys"].append(key)
    return f"added {key['kid']}, published as containers read it; activate from {_at(now + PUBLISHED_AFTER)}"


def activate(doc: dict[str, Any], now: datetime) -> str:
    """Make the next key of ``doc`` the active one, once every JWKS in the field holds it."""
    pending = _next_keys(doc)
    if not pending:
        raise Refused("no next key: run add first")
    if len(pending) > 1:
        raise Refused(f"several next keys ({', '.join(k['kid'] for k in pending)}): remove all but one")
    (key,) = pending
    if "added_at" not in key:
        raise Refused(
            f"{key['kid']} has neither added_at nor replaced_at (edited by hand?): give it the time "
            "it was added (added_at) or, if it was active once, replaced (replaced_at)"
        )
    allowed = clock.parse_rfc3339(key["added_at"]) + PUBLISHED_AFTER
    if now < allowed:
        raise Refused(
            f"too early: {key['kid']} was added at {key['added_at']}; every container and every "
            f"JWKS in the field has it from {_at(allowed)}: activate then"
        )
    replaced = next(k for k in doc["keys"] if k["kid"] == doc["active_kid"])
    replaced["replaced_at"] = key["activated_at"] = _at(now)
    doc["active_kid"] = key["kid"]
    return f"{key['kid']} is active; {replaced['kid']} may be retired from {_at(now + UNUSED_AFTER)}"


def retire(doc: dict[str, Any], now: datetime) -> str:
    """Retire every replaced key of ``doc`` whose last lease has run out."""
    replaced = [k for k in doc["keys"] if k["kid"] != doc["active_kid"] and "replaced_at" in k]
    if not replaced:
        raise Refused("no replaced key to retire: activate a next key first")
    due = [k for k in replaced if clock.parse_rfc3339(k["replaced_at"]) + UNUSED_AFTER <= now]
    if not due:
        allowed = min(clock.parse_rfc3339(k["replaced_at"]) for k in replaced) + UNUSED_AFTER
        raise Refused(
            f"too early: leases signed by {', '.join(k['kid'] for k in replaced)} may be valid "
            f"until {_at(allowed)}: retire then"
        )
    doc["keys"] = [k for k in doc["keys"] if k not in due]
    doc.setdefault("retired", []).extend(public_half(k) | {"retired_at": _at(now)} for k in due)
    return (
        f"retired {', '.join(k['kid'] for k in due)}: out of the JWKS, its public half verifying "
        f"the device tokens it signed"
    )


def _next_keys(doc: dict[str, Any]) -> list[dict[str, Any]]:
    # Published, never active: neither the active key nor one it replaced.
    return [k for k in doc["keys"] if k["kid"] != doc["active_kid"] and "replaced_at" not in k]


def _at(when: datetime) -> str:
    return clock.rfc3339(when)


def run(secrets, stage: str, step: str, say=print) -> None:
    """Do ``step`` on the stage's secret, as of ``chalicelib.clock``; ``Refused`` changes nothing.

    The new version's id (``ClientRequestToken``) is derived from the version read, so of two runs
    that read the same version only the first writes: the second would otherwise undo the first
    (a retired key's private half back in the secret, an activation reverted)."""
    read = secrets.get_secret_value(SecretId=secret_id(stage))
    doc = json.loads(read["SecretString"])
    report = {"add": add, "activate": activate, "retire": retire}[step](doc, clock.now())
    value = json.dumps(doc)
    try:  # what the service would make of it: a secret it refuses keeps every container on its last keys
        parse_secret(value)
    except Exception as e:
        raise Refused(f"the secret would not load ({e.__class__.__name__}: {e}): mend it first") from None
    try:
        secrets.put_secret_value(
            SecretId=secret_id(stage),
            SecretString=value,
            ClientRequestToken=str(uuid.uuid5(uuid.NAMESPACE_URL, read["VersionId"])),
        )
    except secrets.exceptions.ResourceExistsException:
        raise Refused(
            f"the secret changed since this step read it (version {read['VersionId']}; another "
            "operator?): nothing written, run the step again"
        ) from None
    say(f"{secret_id(stage)}: {report}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", help="default: the AWS CLI's (AWS_DEFAULT_REGION)")
    parser.add_argument("step", choices=STEPS)
    args = parser.parse_args(argv)
    import boto3

    try:
        run(boto3.Session(region_name=args.region).client("secretsmanager"), args.stage, args.step)
    except Refused as refusal:
        print(f"{secret_id(args.stage)}: {args.step} refused: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
