"""The service's configuration: the only reader of ``os.environ``.

``Settings.from_environ()`` reads and validates it once per container (app.py, at cold start);
``chalicelib.startup.configure(settings)`` hands it to the rest of the service, and
``get_settings()`` answers it from then on. Nothing reads it at import time, so the tests, the
benchmarks and the local stack build a ``Settings`` and configure with it, in any order. Every
variable is documented in the README's configuration table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo

# The longest a container may keep the keys it read from Secrets Manager (SIGNING_KEY_TTL_S): a
# key rotation (infra/rotate_key.py) waits this long between its steps, whatever a stage chose.
LONGEST_KEY_TTL_S = 900


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable service (the message names the variable)."""


class Settings(BaseModel):
    """One field per environment variable: its name in capitals, unless its ``validation_alias``
    names the variable (or the variables, the first set wins). A plain pydantic model read by
    ``from_environ``: pydantic-settings did the same reading for 50 to 75 ms of every cold start
    (its sources, asyncio, argparse, dotenv; docs/PERFORMANCE.md, section 6)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    stage: str = "dev"
    region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    table_prefix: str = "licensing-dev-"
    aws_endpoint_url: str | None = None
    operator_key_sha256: str = ""
    signing_key_secret_id: str = "licensing/dev/lease-signing-key"
    signing_key_autocreate: bool = False
    cursor_key_secret_id: str = "licensing/dev/cursor-key"
    # How long a container keeps the signing keys and the cursor key before reading them again.
    signing_key_ttl_s: int = Field(300, ge=1, le=LONGEST_KEY_TTL_S)
    max_body_bytes: int = Field(16384, ge=1024)
    activation_uuid_attempts: int = Field(5, ge=1)
    silent_bucket_s: int = Field(86400, ge=60, le=86400)
    sweep_batch: int = Field(2000, ge=1)
    event_ttl_days: int = Field(90, ge=1, le=3650)
    activations_per_mac_per_hour: int = Field(10, ge=1)
    refusals_per_key_per_minute: int = Field(30, ge=1)
    event_bus_name: str = "default"
    max_license_types_per_tenant: int = Field(100, ge=1, le=10000)
    # The Cognito user pool of people's accounts and its app client (no secret; USER_PASSWORD_AUTH
    # and REFRESH_TOKEN_AUTH). An empty pool id turns the account routes off (404 NOT_FOUND);
    # everything else works as without accounts.
    cognito_user_pool_id: str = ""
    cognito_client_id: str = ""
    # Registrations, sign-ins and password resets per email and per source address per hour.
    account_attempts_per_email_per_hour: int = Field(10, ge=1)
    account_attempts_per_address_per_hour: int = Field(100, ge=1)
    version: str = Field("0.1.0", validation_alias="SERVICE_VERSION")
    # The stack gives each stage its own namespace, so one stage's alarms never count another's.
    metrics_namespace: str = Field("MeteredLicensing", validation_alias="POWERTOOLS_METRICS_NAMESPACE")

    @field_validator("aws_endpoint_url", mode="before")
    @classmethod
    def _empty_is_aws(cls, value: object) -> object:
        return value or None

    @field_validator("operator_key_sha256", mode="before")
    @classmethod
    def _hex_digest(cls, value: object) -> object:
        value = str(value or "").strip().lower()
        if value and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
            raise ValueError('must be 64 hex characters (printf %s "$KEY" | sha256sum)')
        return value

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **given: object) -> Settings:
        """The settings the process's environment (or ``environ``) describes, variable names in
        any case, or ``ConfigurationError`` naming each variable that is wrong. Fields ``given``
        win over the environment (the local stack and the tests fix some and leave the rest to
        it, as pydantic-settings did with a model's arguments)."""
        found = {name.upper(): value for name, value in (os.environ if environ is None else environ).items()}
        values: dict[str, object] = {}
        for field, info in cls.model_fields.items():
            variable = next((v for v in _variables(field, info) if v in found), None)
            if variable is not None:
                values[field] = found[variable]
        try:
            return cls(**{**values, **given})
        except ValidationError as e:
            problems = "; ".join(f"{_variable(err['loc'])}: {err['msg']}" for err in e.errors())
            raise ConfigurationError(f"invalid configuration: {problems}") from e


def _variables(field: str, info: FieldInfo) -> list[str]:
    """The environment variables a field is read from, in order."""
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice).upper() for choice in alias.choices]
    return [(alias if isinstance(alias, str) else field).upper()]


def _variable(loc: tuple) -> str:
    """The variable to name for an error at ``loc``, as the README's table names it."""
    field = str(loc[0]) if loc else "?"
    info = Settings.model_fields.get(field)
    return _variables(field, info)[0] if info is not None else field.upper()


_settings: Settings | None = None


def use(settings: Settings) -> None:
    """Make ``settings`` the service's (``chalicelib.startup.configure`` calls it)."""
    global _settings
    _settings = settings


def get_settings() -> Settings:
    """The configured settings. Configuring is the host's first act (app.py, the tests, the
    benchmarks, the local stack): a call before it is a bug, said plainly."""
    if _settings is None:
        raise ConfigurationError("the service is not configured: call chalicelib.startup.configure(settings)")
    return _settings


def is_configured() -> bool:
    return _settings is not None
