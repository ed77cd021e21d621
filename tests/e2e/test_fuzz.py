"""Fuzzing every operation of /openapi.json against the local stack with valid credentials:
no answer is a 5xx, and every answer matches the schema the document gives for it."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import OPERATOR_KEY, kill_everything, start_stack

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("fuzz"))
    yield running
    kill_everything(running.process, running.api_pgid)


@pytest.fixture(scope="module")
def device(stack):
    """A real device of the demo tenant, so device endpoints are reached with a valid token."""
    info = stack.info
    body = {"mac": "00:50:56:fe:fe:01", "ip": "10.250.0.1", "port": 443, "sku": "VLM-MAX-SPLA",
            "image": "LoadMaster-SPLA.ova", "version": "7.2.47", "lic_type_id": info["lic_type_id"]}
    return requests.post(f"{stack.base_url}/v1/activations", json=body,
                         headers={"X-Activation-Key": info["activation_key"]}, timeout=10).json()


def _credentials(case, stack, device) -> dict[str, str]:
    path, info = case.operation.path, stack.info
    if path.startswith("/v1/tenants") or (path.startswith("/v1/usage") and hash(str(case.query)) % 2):
        return {"Authorization": f"Bearer {OPERATOR_KEY}"}
    if path.startswith("/v1/activation"):
        return {"X-Activation-Key": info["activation_key"]}
    if path.rsplit("/", 1)[-1] in ("confirm", "check-ins", "deactivate"):
        return {"Authorization": f"Device {device['device_token']}"}
    return {"Authorization": f"Bearer {info['api_key']}"}


def test_no_operation_answers_5xx_or_off_schema(stack, device):
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            if "device_id" in (case.path_parameters or {}) and hash(str(case.body)) % 2:
                case.path_parameters["device_id"] = device["device_id"]  # half the time a real device
            response = case.call(headers=_credentials(case, stack, device), timeout=30)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=checks)

        fuzz()

    print(f"\nfuzz: {len(operations)} operations, {sum(statuses.values())} requests, statuses {dict(statuses)}")
    assert len(operations) >= 30 and not [s for s in statuses if s >= 500]
