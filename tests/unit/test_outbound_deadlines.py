"""Every client of a service beside DynamoDB has connect and read deadlines and bounded retries
(boto3's defaults would let one call wait 60 s inside a 30 s function)."""

from __future__ import annotations

import pytest

from chalicelib.store import aws


@pytest.mark.parametrize("service", ["events", "secretsmanager", "cognito-idp"])
def test_each_outbound_client_has_deadlines_and_bounded_retries(service):
    config = aws.client(service).meta.config

    assert config.connect_timeout <= 2
    assert config.read_timeout <= 5
    assert config.retries["total_max_attempts"] <= 3


def test_no_module_builds_a_client_of_its_own():
    # The one place clients are built, so no new client escapes the deadlines.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "chalicelib"
    builders = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "boto3.client(" in p.read_text())

    assert builders == ["store/aws.py"]
