"""The app's configuration when it runs on this machine against moto: the local stack (moto's
server), the tests and the benchmarks (moto in process). One place, so they cannot drift apart.
Set it before anything imports ``chalicelib``: PynamoDB reads table names when the models are
made."""

from __future__ import annotations

import hashlib
import os

# The operator key of the tests and benchmarks (the local stack makes its own).
TEST_OPERATOR_KEY = "lk_op.test-operator-key-0123456789"

_FAKE_CREDENTIALS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def use_local_environment(*, moto_endpoint: str | None, operator_key: str) -> None:
    """Configure this process's app for moto: at ``moto_endpoint``, or in process when None."""
    for name in (*_FAKE_CREDENTIALS, "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "STAGE": "dev",
        "TABLE_PREFIX": "licensing-dev-",
        "SIGNING_KEY_SECRET_ID": "licensing/dev/lease-signing-key",
        "SIGNING_KEY_AUTOCREATE": "true",
        "OPERATOR_KEY_SHA256": hashlib.sha256(operator_key.encode()).hexdigest() if operator_key else "",
        "POWERTOOLS_METRICS_NAMESPACE": "MeteredLicensing",
        "POWERTOOLS_DEV": "false",
    })
    if moto_endpoint:
        os.environ["AWS_ENDPOINT_URL"] = moto_endpoint
