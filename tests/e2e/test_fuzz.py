"""Fuzzing every operation of /openapi.json against the local stack: no answer is a 5xx, every
answer matches the schema the document gives for it, and every operation is shown to have been
*reached*: a minimum share of its answers is 2xx. A run whose credentials went stale (a key
rotated mid-run, a device deleted) would answer 401 or 404 everywhere, and fails here.

Each operation is fuzzed against a world of its own (a fresh tenant on trial, its license type
and one device), whose credentials follow the run (a rotated key replaces the old one, a
check-in's fresh token the old one). Each example is drawn as one of two kinds:

- ``fuzz``: the generated request as it is, with valid credentials (mostly refused: 4xx);
- ``valid``: the generated request with the ids and the fields the service checks against its
  data (the device's own MAC, a pool that fits the contract, a device or tenant of its own for
  what cannot be done twice) replaced by the world's, so that it should succeed.

Seeded: ``FUZZ_SEED`` (default ``SEED``) fixes every example. A failure names the seed and the
operation and hypothesis prints the example; ``FUZZ_SEED=<seed> .venv/bin/python -m pytest
tests/e2e/test_fuzz.py`` replays it, and another seed explores other examples.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import OPERATOR_KEY, kill_everything, start_stack

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
EXAMPLES = 12
# Per operation. The valid examples are two in three, so an operation that the service answers
# correctly is far above this; one whose every call is refused is at 0.
MIN_2XX_SHARE = 0.25
NEVER_2XX = {
    # Blocking a device takes a missed confirm window (at least 60 s on the wall clock) and a
    # sweep; tests/service covers unblocking, here it is only fuzzed.
    "POST /v1/devices/{device_id}/unblock",
    # The accounts' routes (issue 15) are fuzzed (no 5xx, the schema, the status codes) but not yet
    # with valid account credentials and codes: their 2xx share is not asserted until they are
    # (tests/service/test_accounts.py and tests/e2e/test_accounts_races_http.py drive them).
    *(f"{method} {path}" for method, path in (
        ("POST", "/v1/accounts"), ("POST", "/v1/accounts/confirm"), ("POST", "/v1/sessions"),
        ("POST", "/v1/sessions/refresh"), ("DELETE", "/v1/sessions"), ("POST", "/v1/accounts/password-reset/confirm"),
        ("GET", "/v1/account"), ("PATCH", "/v1/account"), ("POST", "/v1/account/email/confirm"),
        ("POST", "/v1/account/tenant"), ("POST", "/v1/trial"), ("POST", "/v1/members"),
        ("PATCH", "/v1/members/{account_id}"), ("DELETE", "/v1/members/{account_id}"), ("POST", "/v1/ownership"),
        ("DELETE", "/v1/invitations"))),
}
IMAGE, VERSION = "LoadMaster-VLM-7.2.47-SPLA.ova", "7.2.47"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
_serial = itertools.count(1)


@dataclass
class Device:
    device_id: str
    token: str
    mac: str
    ip: str
    port: int = 443


@dataclass
class World:
    """One tenant on trial, its first license type and a device, as the fuzzed operation finds
    them; the keys are replaced when the run rotates them."""

    tenant_id: str
    api_key: str
    activation_key: str
    lic_type_id: str
    sku: str
    device: Device


class Provisioner:
    """Builds worlds and fresh things through the API, outside the counted answers."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def call(self, method: str, path: str, headers: dict[str, str], body: Any = None, expect: int = 200) -> Any:
        response = self.http.request(method, self.base_url + path, json=body, headers=headers, timeout=30)
        assert response.status_code == expect, f"provisioning: {method} {path} -> {response.status_code} " \
                                               f"{response.text[:300]}"
        return response.json()

    def tenant(self) -> tuple[str, str, str]:
        n = next(_serial)
        created = self.call("POST", "/v1/tenants", OPERATOR,
                            {"name": f"Fuzz {n}", "owner_email": f"fuzz{n}@example.com"}, expect=201)
        return created["tenant_id"], created["api_key"], created["activation_key"]

    def world(self) -> World:
        tenant_id, api_key, activation_key = self.tenant()
        self.call("POST", f"/v1/tenants/{tenant_id}/trial", OPERATOR, {"instances": 1000}, expect=201)
        [first, *_] = self.call("GET", "/v1/license-types", admin(api_key))["license_types"]
        world = World(tenant_id, api_key, activation_key, first["lic_type_id"], first["sku"], None)  # type: ignore[arg-type]
        world.device = self.device(world)
        return world

    def device(self, world: World) -> Device:
        mac, ip = fresh_address()
        granted = self.call("POST", "/v1/activations", {"X-Activation-Key": world.activation_key},
                            {**loadmaster(world, mac, ip), "lic_type_id": world.lic_type_id}, expect=201)
        return Device(granted["device_id"], granted["device_token"], mac, ip)

    def pool(self, world: World) -> str:
        created = self.call("POST", "/v1/license-types", admin(world.api_key),
                            {"name": f"pool {next(_serial)}", "sku": world.sku, "capacity": 0}, expect=201)
        return created["lic_type_id"]


def admin(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


def fresh_address() -> tuple[str, str]:
    """A MAC and an IP address no other request of the run has used."""
    n = next(_serial)
    mac = f"02:f0:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
    return mac, f"10.{200 + (n >> 16 & 31)}.{n >> 8 & 255}.{n & 255}"


def loadmaster(world: World, mac: str, ip: str) -> dict[str, Any]:
    return {"mac": mac, "ip": ip, "port": 443, "sku": world.sku, "image": IMAGE, "version": VERSION}


def make_valid(label: str, case, world: World, provision: Provisioner) -> Device:
    """Replace what the service checks against its data with the world's; the device whose token
    the request carries."""
    params, body = case.path_parameters, case.body
    device = world.device
    if params:
        params.update({k: v for k, v in (("tenant_id", world.tenant_id), ("lic_type_id", world.lic_type_id),
                                         ("device_id", device.device_id)) if k in params})
    if isinstance(case.query, dict):
        case.query.pop("next", None)  # a cursor is the service's own, never made up
    if label in ("POST /v1/devices/{device_id}/deactivate", "DELETE /v1/devices/{device_id}",
                 "POST /v1/devices/{device_id}/replace"):
        device = provision.device(world)  # what cannot be done twice gets a device of its own
        params["device_id"] = device.device_id
    if label in ("POST /v1/tenants/{tenant_id}/trial", "POST /v1/tenants/{tenant_id}/terminate"):
        params["tenant_id"] = provision.tenant()[0]
    if label == "DELETE /v1/license-types/{lic_type_id}":
        params["lic_type_id"] = provision.pool(world)

    if label == "POST /v1/activation/license-types":
        case.body = loadmaster(world, *fresh_address())
    elif label == "POST /v1/activations":
        case.body = {**loadmaster(world, *fresh_address()), "lic_type_id": world.lic_type_id}
    elif label == "POST /v1/devices/{device_id}/check-ins":
        case.body = {**body, "mac": device.mac, "ip": device.ip, "port": device.port}
    elif label == "POST /v1/devices/{device_id}/replace":
        mac, ip = fresh_address()
        case.body = {"mac": mac, "ip": ip, "port": 443}
    elif label == "POST /v1/license-types":
        case.body = {**body, "name": f"pool {next(_serial)}", "sku": world.sku, "capacity": 0}
    elif label == "PATCH /v1/license-types/{lic_type_id}":
        case.body = {k: v for k, v in body.items() if k != "capacity"} | {"name": f"pool {next(_serial)}"}
    elif label == "PATCH /v1/settings":
        check_in = body.get("check_in_interval_s") or 3600
        case.body = {**body, "check_in_interval_s": check_in,
                     "silent_after_s": max(body.get("silent_after_s") or 86400, check_in)}
    elif label == "POST /v1/tenants":
        n = next(_serial)
        case.body = {"name": f"Fuzz {n}", "owner_email": f"fuzz{n}@example.com"}
    elif label == "POST /v1/tenants/{tenant_id}/owner":
        case.body = {"owner_email": f"owner{next(_serial)}@example.com"}
    elif label == "POST /v1/tenants/{tenant_id}/contracts":
        now = datetime.now(UTC).replace(microsecond=0)
        case.body = {"contract_id": f"C-{next(_serial)}", "capacity": max(body.get("capacity") or 1, 1000),
                     "starts_at": (now - timedelta(days=1)).isoformat(),
                     "ends_at": (now + timedelta(days=365)).isoformat()}
    return device


def credentials(label: str, world: World, device: Device, as_operator: bool) -> dict[str, str]:
    path = label.split(" ", 1)[1]
    if path.startswith("/v1/tenants") or (path.startswith("/v1/usage") and as_operator):
        return OPERATOR
    if path.startswith("/v1/activation"):
        return {"X-Activation-Key": world.activation_key}
    if path.rsplit("/", 1)[-1] in ("confirm", "check-ins", "deactivate"):
        return {"Authorization": f"Device {device.token}"}
    return admin(world.api_key)


def follow(label: str, case, response: requests.Response, world: World, device: Device) -> None:
    """Keep the world's credentials current, as a client would."""
    if response.status_code >= 300:
        return
    if label == "POST /v1/keys/rotate":
        if case.body["kind"] == "api":
            world.api_key = response.json()["key"]
        else:
            world.activation_key = response.json()["key"]
    elif label == "POST /v1/devices/{device_id}/check-ins":
        device.token = response.json()["device_token"]


def fuzzer(operation, label: str, world: World, provision: Provisioner, statuses: Counter[int]):
    """The seeded property test of one operation against its world."""

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              print_blob=True)
    @given(case=operation.as_strategy(), kind=st.sampled_from(["valid", "valid", "fuzz"]), as_operator=st.booleans())
    def fuzz(case, kind, as_operator):
        device = make_valid(label, case, world, provision) if kind == "valid" else world.device
        response = case.call(headers=credentials(label, world, device, as_operator), timeout=30)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
        follow(label, case, response, world, device)

    return fuzz


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("fuzz"))
    yield running
    kill_everything(running.process, running.api_pgid)


def test_every_operation_is_reached_and_none_answers_5xx_or_off_schema(stack):
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    provision = Provisioner(stack.base_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: dict[str, Counter[int]] = defaultdict(Counter)

    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        fuzz = fuzzer(operation, label, provision.world(), provision, statuses[label])
        try:
            fuzz()
        except BaseException as e:
            e.add_note(f"replay: FUZZ_SEED={SEED} .venv/bin/python -m pytest tests/e2e/test_fuzz.py ({label})")
            raise

    def share_2xx(counts: Counter[int]) -> float:
        return sum(n for s, n in counts.items() if 200 <= s < 300) / max(1, sum(counts.values()))

    report = "\n".join(f"  {share_2xx(c):4.0%} 2xx  {label}  {dict(sorted(c.items()))}"
                       for label, c in sorted(statuses.items()))
    print(f"\nfuzz (FUZZ_SEED={SEED}): {len(operations)} operations, "
          f"{sum(sum(c.values()) for c in statuses.values())} requests\n{report}")
    assert len(operations) >= 30
    assert not [s for c in statuses.values() for s in c if s >= 500]
    unreached = {label: dict(c) for label, c in statuses.items()
                 if label not in NEVER_2XX and share_2xx(c) < MIN_2XX_SHARE}
    assert not unreached, f"operations below {MIN_2XX_SHARE:.0%} 2xx (FUZZ_SEED={SEED}):\n{report}"
    assert set(statuses) >= NEVER_2XX, "an operation excused from 2xx is no longer in the document"
