"""The app's configuration when it runs on this machine against moto: the local stack (moto's
server), the tests and the benchmarks (moto in process). One place, so they cannot drift apart.

``local_settings`` is what they hand to ``chalicelib.startup.configure``; ``as_environment`` is
the same settings as environment variables, for a process that reads its own (``chalice local``
under the local stack, as Lambda would). ``use_fake_aws_credentials`` keeps boto3 in this
process (and its children) away from any real AWS account.
"""

from __future__ import annotations

import hashlib
import os

from chalicelib.settings import Settings

# The operator key of the tests and benchmarks (the local stack makes its own).
TEST_OPERATOR_KEY = "lk_op.test-operator-key-0123456789"

_REAL_CREDENTIALS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def local_settings(*, moto_endpoint: str | None, operator_key: str, **overrides: object) -> Settings:
    """The dev stage's settings against moto: at ``moto_endpoint``, or in process when None; any
    other setting from the environment (``REFUSALS_PER_KEY_PER_MINUTE=100000 make run``)."""
    return Settings.from_environ(
        stage="dev",
        region="us-east-1",
        table_prefix="licensing-dev-",
        aws_endpoint_url=moto_endpoint,
        signing_key_secret_id="licensing/dev/lease-signing-key",
        signing_key_autocreate=True,
        operator_key_sha256=hashlib.sha256(operator_key.encode()).hexdigest() if operator_key else "",
        **overrides,
    )


def as_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment variables ``Settings.from_environ`` reads."""
    environment = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        alias = field.validation_alias
        variables = alias.choices if hasattr(alias, "choices") else [alias or name]
        for variable in variables:
            environment[str(variable).upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return environment


def use_fake_aws_credentials() -> None:
    """Credentials moto accepts, and none that could reach a real account."""
    for name in (*_REAL_CREDENTIALS, "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_METRICS_NAMESPACE": "MeteredLicensing",
            "POWERTOOLS_DEV": "false",
        }
    )


def use_local_environment(*, moto_endpoint: str | None, operator_key: str, **overrides: object) -> Settings:
    """Fake credentials, and the service configured with ``local_settings`` (a script that acts
    on a running local stack's moto, as ``python -m local.sweep`` does)."""
    from chalicelib.startup import configure

    use_fake_aws_credentials()
    return configure(local_settings(moto_endpoint=moto_endpoint, operator_key=operator_key, **overrides))
