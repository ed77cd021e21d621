"""Fault injection at the botocore layer: throttling, transaction conflicts, timeouts, and writes
that succeed but whose answer is lost, at ~10 % of DynamoDB calls over thousands of mixed
operations with client retries. Afterwards every invariant holds, recounted from the items, and
no answer was wrong: a failure the service could not absorb is a 503 with Retry-After."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError

from chalicelib.domain.errors import Code, DomainError
from chalicelib.store.models import ClaimItem, DeviceItem, LicenseTypeItem, TenantItem
from tests.conftest import LM, T0, scheduled_event

OPERATIONS = 1500
FAULT_RATE = 0.10
MACS = 40
# Lambda invokes a failed scheduled function again, and the schedule runs it again minutes later;
# each run keeps what it did (every release is a conditional write), so a sweep with forty devices
# due at a 10 % fault rate per DynamoDB call converges well within this many invocations (the seeded
# run needed at most 11 when this was written).
SCHEDULE_ATTEMPTS = 20


class Faults:
    """Injects one of four faults into ~FAULT_RATE of DynamoDB calls while ``on``."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.on = False
        self.injected: Counter[str] = Counter()
        self.raised: set[int] = set()  # id() of every exception injected, to tell them from real failures
        self.calls = 0

    def call(self, original, client, operation, params):
        if not self.on or client.meta.service_model.service_name != "dynamodb":
            return original(client, operation, params)
        self.calls += 1
        if self.random.random() >= FAULT_RATE:
            return original(client, operation, params)
        kind = self.random.choice(["throttle", "conflict", "timeout", "lost"])
        self.injected[kind] += 1
        if kind == "lost":
            original(client, operation, params)  # the write happened, its answer did not arrive
        fault = self._fault(kind, operation, params)
        self.raised.add(id(fault))
        raise fault

    @staticmethod
    def _fault(kind: str, operation: str, params: dict) -> Exception:
        if kind == "throttle":
            return ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, operation)
        if kind == "conflict":
            if operation == "TransactWriteItems":
                reasons = [{"Code": "TransactionConflict"} for _ in params["TransactItems"]]
                return ClientError(
                    {
                        "Error": {"Code": "TransactionCanceledException", "Message": "injected"},
                        "CancellationReasons": reasons,
                    },
                    operation,
                )
            return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, operation)
        return ReadTimeoutError(endpoint_url="https://dynamodb.injected")  # a timeout, or a lost answer

    def caused(self, error: BaseException) -> bool:
        """``error`` is an injected fault, or was raised from one (the store's UNAVAILABLE,
        PynamoDB's error around botocore's)."""
        seen: set[int] = set()
        while error is not None and id(error) not in seen:
            if id(error) in self.raised:
                return True
            seen.add(id(error))
            error = error.__cause__ or error.__context__ or getattr(error, "cause", None)
        return False


@pytest.fixture
def faults(monkeypatch):
    injector = Faults(seed=20261128)
    original = BaseClient._make_api_call
    monkeypatch.setattr(
        BaseClient,
        "_make_api_call",
        lambda client, operation, params: injector.call(original, client, operation, params),
    )
    return injector


def _invoke_with_retries(api, faults: Faults, name: str, event: dict) -> int:
    """A scheduled function invoked as Lambda does, again after a failure (at most
    ``SCHEDULE_ATTEMPTS`` times); the number of failed invocations. A failure must be one of the
    injected faults (a real error would be a bug, not a fault to retry), raised by the store as
    UNAVAILABLE, as the routes get it."""
    for attempt in range(SCHEDULE_ATTEMPTS):
        try:
            api.client.lambda_.invoke(name, event)
        except Exception as e:
            assert faults.caused(e), f"{name} failed with something other than an injected fault: {e!r}"
            assert isinstance(e, DomainError) and e.code == Code.UNAVAILABLE, f"{name}: {e!r} is not UNAVAILABLE"
            continue
        return attempt
    pytest.fail(f"{name} failed {SCHEDULE_ATTEMPTS} invocations in a row at a {FAULT_RATE:.0%} fault rate")


def _with_retries(call, outcomes: Counter):
    """A client that retries 503s (as told by Retry-After) up to five times."""
    for _ in range(6):
        reply = call()
        outcomes[reply.status] += 1
        assert reply.status != 500, reply.body
        if reply.status == 503:
            assert reply.headers.get("Retry-After") and reply.code in ("UNAVAILABLE", "UUID_GENERATION_FAILED")
            continue
        return reply
    return reply


def test_invariants_hold_under_injected_faults(api, new_tenant, faults, clock, sweep):
    keys = new_tenant("Faulty", contract={"contract_id": "C-F", "capacity": 30, "starts_at": "2026-11-01T00:00:00Z"})
    lic_type_id = api.post(
        "/v1/license-types", {"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": 20}, headers=keys.admin
    ).body["lic_type_id"]
    rng = random.Random(7)
    devices: dict[int, dict] = {}
    outcomes: Counter[int] = Counter()
    sweeps_run = sweeps_failed = 0
    faults.on = True

    for step in range(OPERATIONS):
        clock.set_now(T0 + timedelta(minutes=step))
        n = rng.randrange(MACS)
        lm = {**LM, "mac": f"00:50:56:00:40:{n:02x}", "ip": f"10.40.0.{n}"}
        action = rng.choices(
            ["activate", "confirm", "check_in", "deactivate", "delete", "unblock", "sweep"],
            weights=[30, 15, 25, 10, 5, 5, 10],
        )[0]
        device = devices.get(n)
        if action == "activate" or device is None:
            key = f"op-{step}"
            reply = _with_retries(
                lambda lm=lm, key=key: api.post(
                    "/v1/activations",
                    {**lm, "lic_type_id": lic_type_id},
                    headers={**keys.loadmaster, "Idempotency-Key": key},
                ),
                outcomes,
            )
            if reply.status == 201:
                devices[n] = reply.body
        elif action in ("confirm", "check_in", "deactivate"):
            path = {"confirm": "confirm", "check_in": "check-ins", "deactivate": "deactivate"}[action]
            body = {k: lm[k] for k in ("mac", "ip", "port", "version")}
            _with_retries(
                lambda d=device, path=path, body=body: api.post(
                    f"/v1/devices/{d['device_id']}/{path}",
                    body,
                    headers={"Authorization": f"Device {d['device_token']}"},
                ),
                outcomes,
            )
        elif action == "delete":
            _with_retries(lambda d=device: api.delete(f"/v1/devices/{d['device_id']}", headers=keys.admin), outcomes)
        elif action == "unblock":
            _with_retries(
                lambda d=device: api.post(f"/v1/devices/{d['device_id']}/unblock", headers=keys.admin), outcomes
            )
        else:
            name = rng.choice(["block_unconfirmed", "deactivate_silent", "meter_usage"])
            event = scheduled_event(clock.now() + timedelta(hours=rng.choice([1, 30])))
            sweeps_failed += _invoke_with_retries(api, faults, name, event)
            sweeps_run += 1

    faults.on = False
    checks = _assert_invariants(keys.tenant_id, lic_type_id)
    print(
        f"\nfaults: {OPERATIONS} operations, {sum(outcomes.values())} requests, {faults.calls} DynamoDB calls, "
        f"injected {dict(faults.injected)}, answers {dict(outcomes)}, sweeps {sweeps_run} "
        f"({sweeps_failed} failed invocations, each retried), "
        f"invariant checks {checks}"
    )
    assert sum(faults.injected.values()) > 0.05 * faults.calls
    assert outcomes[500] == 0 and outcomes[201] > 0
    assert sweeps_failed > 0, "no sweep met a fault: the retry path of the schedules went untested"


def _assert_invariants(tenant_id: str, lic_type_id: str) -> int:
    """Recount from the items: counters, claims and uniqueness. Returns the number of checks."""
    devices = [d for d in DeviceItem.scan() if d.tenant_id == tenant_id]
    holding = [d for d in devices if d.status in ("PENDING", "ACTIVE")]
    pool = LicenseTypeItem.get(tenant_id, lic_type_id)
    tenant = TenantItem.get(tenant_id)
    claims = {c.claim: c for c in ClaimItem.scan() if c.tenant_id == tenant_id and not c.claim.startswith("idem#")}
    checks = 0
    # Invariant 1: in_use is the number of holding devices, within capacity.
    assert int(pool.in_use) == len(holding) <= int(pool.capacity)
    assert int(tenant.in_use) == len(holding)
    checks += 2
    # Invariant 2: one license per MAC and per address, each held by a claim naming its device.
    assert len({d.mac for d in holding}) == len(holding)
    assert len({(d.ip, int(d.port)) for d in holding}) == len(holding)
    checks += 2
    for d in holding:
        assert claims.pop(f"mac#{tenant_id}#{d.mac}").device_id == d.device_id
        assert claims.pop(f"addr#{tenant_id}#{d.ip}:{int(d.port)}").device_id == d.device_id
        checks += 2
    # What claims remain are the MACs of BLOCKED devices, and nothing else.
    blocked = {d.device_id for d in devices if d.status == "BLOCKED"}
    for claim in claims.values():
        assert claim.claim.startswith("mac#") and claim.blocked and claim.device_id in blocked, claim.claim
        checks += 1
    return checks
