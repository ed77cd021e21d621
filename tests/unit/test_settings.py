"""The service's configuration: read once from the environment, validated, and a wrong value is
refused with the name of its variable; given to the service by ``configure``, in any order."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.settings import ConfigurationError, Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "variable, value",
    [
        ("SILENT_BUCKET_S", "5"),
        ("MAX_BODY_BYTES", "many"),
        ("OPERATOR_KEY_SHA256", "abc"),
        ("SIGNING_KEY_AUTOCREATE", "maybe"),
    ],
)
def test_a_wrong_variable_is_named(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environ()


def test_the_environment_names_of_the_readme(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("SERVICE_VERSION", "9.9.9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    monkeypatch.setenv("SIGNING_KEY_AUTOCREATE", "true")

    settings = Settings.from_environ()

    assert (settings.region, settings.version, settings.aws_endpoint_url) == ("eu-west-1", "9.9.9", None)
    assert settings.signing_key_autocreate is True


def test_each_variable_is_read_by_its_name_in_any_case_the_first_alias_set_winning():
    environ = {
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-west-1",
        "table_prefix": "licensing-lower-",
        "Stage": "mixed",
        "POWERTOOLS_METRICS_NAMESPACE": "MeteredLicensing/mixed",
        "VERSION": "not SERVICE_VERSION",
        "UNRELATED": "ignored",
    }

    settings = Settings.from_environ(environ)

    assert (settings.region, settings.table_prefix, settings.stage) == ("eu-west-1", "licensing-lower-", "mixed")
    assert settings.metrics_namespace == "MeteredLicensing/mixed"
    assert settings.version == Settings.model_fields["version"].default
    assert Settings.from_environ({"AWS_DEFAULT_REGION": "ap-south-1"}).region == "ap-south-1"
    assert Settings.from_environ({}) == Settings()


def _cold_start(**environment: str) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**keep, "AWS_DEFAULT_REGION": "us-east-1", **environment},
        timeout=60,
    )


def test_a_cold_start_with_a_wrong_variable_fails_naming_it():
    started = _cold_start(SWEEP_BATCH="0")

    assert started.returncode != 0
    assert "ConfigurationError" in started.stderr and "SWEEP_BATCH" in started.stderr


def test_a_cold_start_configures_the_tables_from_the_environment():
    started = subprocess.run(
        [sys.executable, "-c", "import app; from chalicelib import store; print(store.table_names()[0])"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        | {"AWS_DEFAULT_REGION": "us-east-1", "TABLE_PREFIX": "licensing-prod-"},
    )

    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "licensing-prod-tenants"


def test_the_local_stack_fixes_its_own_settings_and_takes_the_rest_from_the_environment(monkeypatch):
    """``REFUSALS_PER_KEY_PER_MINUTE=100000 make run``: the e2e stacks are started so."""
    from local.environment import local_settings

    monkeypatch.setenv("REFUSALS_PER_KEY_PER_MINUTE", "100000")
    monkeypatch.setenv("TABLE_PREFIX", "elsewhere-")

    settings = local_settings(moto_endpoint=None, operator_key="")

    assert (settings.refusals_per_key_per_minute, settings.table_prefix) == (100000, "licensing-dev-")
