"""The production package, built once per test session (``packaged``): the deploy drill and
the template tests use the same one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.drill import package


@pytest.fixture(scope="session")
def packaged(tmp_path_factory) -> Path:
    """The directory holding ``sam.json`` and ``deployment.zip``, as ``python -m infra.build --out
    DIR`` writes them (one package for every stage)."""
    return package(tmp_path_factory.mktemp("package"))


@pytest.fixture
def aws(monkeypatch):
    """A boto3 session on moto in this process (S3, DynamoDB, Secrets Manager, SQS), with
    nothing of the environment pointing elsewhere."""
    import boto3
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")
