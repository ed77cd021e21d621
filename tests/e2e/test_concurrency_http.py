"""Invariant 1 over real HTTP: many threads against the local stack (``chalice local`` serves
them concurrently; the stack's moto applies each request atomically, as DynamoDB does)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier, Lock, local

import pytest
import requests

from tests.e2e.conftest import OPERATOR_KEY, ROOT, kill_everything, loadmaster, start_stack

pytestmark = pytest.mark.e2e

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
THREADS = 16
ATTEMPTS = 200
CAPACITY = 50


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # Every refused attempt must be answered with its own error, not rate limited.
    running = start_stack(tmp_path_factory.mktemp("stack"), {"REFUSALS_PER_KEY_PER_MINUTE": "100000"})
    yield running
    kill_everything(running.process, running.api_pgid)


class ThreadSessions:
    """A ``requests.Session`` for each thread: a session is not thread-safe (its connection pool
    and cookie jar are shared), so sixteen threads on one would test requests, not the service."""

    def __init__(self) -> None:
        self._local = local()
        self._lock = Lock()
        self._all: list[requests.Session] = []

    def __call__(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._all.append(session)
        return session

    def __enter__(self) -> ThreadSessions:
        return self

    def __exit__(self, *exc: object) -> None:
        for session in self._all:
            session.close()


def _tenant(stack):
    base = stack.base_url
    created = requests.post(
        f"{base}/v1/tenants", json={"name": "Load", "owner_email": "ops@load.example"}, headers=OPERATOR, timeout=10
    ).json()
    requests.post(
        f"{base}/v1/tenants/{created['tenant_id']}/contracts",
        json={"contract_id": "C-LOAD", "capacity": CAPACITY, "starts_at": "2026-01-01T00:00:00Z"},
        headers=OPERATOR,
        timeout=10,
    ).raise_for_status()
    admin = {"Authorization": f"Bearer {created['api_key']}"}
    lic_type = requests.post(
        f"{base}/v1/license-types",
        json={"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": CAPACITY},
        headers=admin,
        timeout=10,
    ).json()
    return created, admin, lic_type["lic_type_id"]


def _holding_by_type(stack, admin) -> dict[str, int]:
    counts: dict[str, int] = {}
    cursor = None
    while True:
        params = {"limit": 100, **({"next": cursor} if cursor else {})}
        page = requests.get(f"{stack.base_url}/v1/devices", params=params, headers=admin, timeout=10).json()
        for d in page["devices"]:
            if d["status"] in ("PENDING", "ACTIVE"):
                counts[d["lic_type_id"]] = counts.get(d["lic_type_id"], 0) + 1
        cursor = page["next"]
        if not cursor:
            return counts


def test_two_hundred_attempts_from_sixteen_threads_take_exactly_fifty_instances(stack):
    tenant, admin, lic_type_id = _tenant(stack)
    start = Barrier(THREADS)
    sessions = ThreadSessions()

    def attempt(n: int):
        if n < THREADS:
            start.wait()
        return sessions().post(
            f"{stack.base_url}/v1/activations",
            json={**loadmaster(n), "lic_type_id": lic_type_id},
            headers={"X-Activation-Key": tenant["activation_key"]},
            timeout=30,
        )

    with sessions, ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(attempt, range(ATTEMPTS)))

    statuses = [r.status_code for r in replies]
    assert statuses.count(201) == CAPACITY
    assert {r.json()["error"]["code"] for r in replies if r.status_code != 201} == {"INSTANCE_LIMIT_REACHED"}
    assert len({r.json()["device_id"] for r in replies if r.status_code == 201}) == CAPACITY
    pool_state = requests.get(f"{stack.base_url}/v1/license-types/{lic_type_id}", headers=admin, timeout=10).json()
    assert pool_state["in_use"] == CAPACITY
    assert _holding_by_type(stack, admin) == {lic_type_id: CAPACITY}


def test_check_ins_deactivations_and_sweeps_racing_leave_every_counter_true(stack):
    tenant, admin, lic_type_id = _tenant(stack)
    granted = [
        requests.post(
            f"{stack.base_url}/v1/activations",
            json={**loadmaster(1000 + n), "lic_type_id": lic_type_id},
            headers={"X-Activation-Key": tenant["activation_key"]},
            timeout=10,
        ).json()
        for n in range(30)
    ]
    sessions = ThreadSessions()

    def device_call(i: int):
        device = granted[i % len(granted)]
        headers = {"Authorization": f"Device {device['device_token']}"}
        path = ("check-ins", "confirm", "deactivate")[i % 3]
        body = {k: loadmaster(1000 + i % len(granted))[k] for k in ("mac", "ip", "port", "version")}
        return (
            sessions()
            .post(f"{stack.base_url}/v1/devices/{device['device_id']}/{path}", json=body, headers=headers, timeout=30)
            .status_code
        )

    def sweep(i: int):
        # Run at times where some devices are due: the unconfirmed are blocked, the silent deactivated.
        at = (datetime.now(UTC) + timedelta(days=1 + i % 2, minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        name = ("block_unconfirmed", "deactivate_silent")[i % 2]
        done = subprocess.run(
            [sys.executable, "-m", "local.sweep", name, "--port", str(stack.port), "--at", at],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")},
        )
        return done.returncode

    with sessions, ThreadPoolExecutor(THREADS) as pool:
        sweeps = [pool.submit(sweep, i) for i in range(4)]
        calls = list(pool.map(device_call, range(300)))

    assert all(s.result() == 0 for s in sweeps)
    assert all(status < 500 for status in calls), sorted(set(calls))
    held = _holding_by_type(stack, admin).get(lic_type_id, 0)
    pool_state = requests.get(f"{stack.base_url}/v1/license-types/{lic_type_id}", headers=admin, timeout=10).json()
    license_state = requests.get(f"{stack.base_url}/v1/license", headers=admin, timeout=10).json()
    assert pool_state["in_use"] == held == license_state["in_use"]
