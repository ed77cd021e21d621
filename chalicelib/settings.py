"""The service's configuration: the only reader of ``os.environ``.

Read and validated once per container (cold start). Every variable is documented in the
README's configuration table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


class ConfigurationError(RuntimeError):
    """The environment does not describe a runnable service."""


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    aws_endpoint_url: str | None
    operator_key_sha256: str
    signing_key_secret_id: str
    signing_key_autocreate: bool
    max_body_bytes: int
    activation_uuid_attempts: int
    silent_bucket_s: int
    sweep_batch: int
    event_ttl_days: int
    activations_per_mac_per_hour: int
    refusals_per_key_per_minute: int
    event_bus_name: str
    max_license_types_per_tenant: int
    version: str

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        operator_hash = env.get("OPERATOR_KEY_SHA256", "").strip().lower()
        if operator_hash and (len(operator_hash) != 64 or not _is_hex(operator_hash)):
            raise ConfigurationError("OPERATOR_KEY_SHA256 must be 64 hex characters")
        settings = cls(
            stage=env.get("STAGE", "dev"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            table_prefix=env.get("TABLE_PREFIX", "licensing-dev-"),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            operator_key_sha256=operator_hash,
            signing_key_secret_id=env.get("SIGNING_KEY_SECRET_ID", "licensing/dev/lease-signing-key"),
            signing_key_autocreate=_flag(env.get("SIGNING_KEY_AUTOCREATE", "false")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", "16384")),
            activation_uuid_attempts=int(env.get("ACTIVATION_UUID_ATTEMPTS", "5")),
            silent_bucket_s=int(env.get("SILENT_BUCKET_S", "86400")),
            sweep_batch=int(env.get("SWEEP_BATCH", "2000")),
            event_ttl_days=int(env.get("EVENT_TTL_DAYS", "90")),
            activations_per_mac_per_hour=int(env.get("ACTIVATIONS_PER_MAC_PER_HOUR", "10")),
            refusals_per_key_per_minute=int(env.get("REFUSALS_PER_KEY_PER_MINUTE", "30")),
            event_bus_name=env.get("EVENT_BUS_NAME", "default"),
            max_license_types_per_tenant=int(env.get("MAX_LICENSE_TYPES_PER_TENANT", "100")),
            version=env.get("SERVICE_VERSION", "0.1.0"),
        )
        if settings.max_body_bytes < 1024 or settings.activation_uuid_attempts < 1:
            raise ConfigurationError("MAX_BODY_BYTES must be >= 1024 and ACTIVATION_UUID_ATTEMPTS >= 1")
        if not 60 <= settings.silent_bucket_s <= 86400 or settings.sweep_batch < 1:
            raise ConfigurationError("SILENT_BUCKET_S must be 60..86400 and SWEEP_BATCH >= 1")
        if not 1 <= settings.max_license_types_per_tenant <= 10000:
            raise ConfigurationError("MAX_LICENSE_TYPES_PER_TENANT must be 1..10000")
        if not 1 <= settings.event_ttl_days <= 3650:
            raise ConfigurationError("EVENT_TTL_DAYS must be 1..3650")
        if settings.activations_per_mac_per_hour < 1 or settings.refusals_per_key_per_minute < 1:
            raise ConfigurationError("ACTIVATIONS_PER_MAC_PER_HOUR and REFUSALS_PER_KEY_PER_MINUTE must be >= 1")
        return settings


def _is_hex(value: str) -> bool:
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environ()
