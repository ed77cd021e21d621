"""Issue 11, items 1 to 4 (the fleet tests of item 2 run last: the sweeps of the others act on every
tenant of the stack), over real HTTP against the local stack: the races an adversarial
tenant admin, operator, LoadMaster or clone can start, each recounted from the API afterwards.

- Invariant 7: pool capacities together never exceed the contract, whatever writes race
  (pool creates, PATCHes, a renewal to a smaller contract), and activations never take more
  than the contract sells.
- Invariant 8: a renewal that lands while a sweep winds a tenant down keeps every device still
  holding; a release never fails because the device moved (a check-in from a new address).
- Invariant 9: a clone presenting another device's token is refused and changes nothing.

Every answer is checked for 5xx; after every run the pools' ``in_use`` is recounted against the
devices holding an instance (per pool and per tenant). Scheduled functions run in a subprocess
(``python -m local.sweep``) at a chosen time, concurrently with the HTTP requests. Each thread
uses its own ``requests.Session``; nothing waits on the wall clock: conditions are polled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

import pytest
import requests

from tests.e2e.conftest import OPERATOR_KEY, ROOT, kill_everything, loadmaster, start_stack

pytestmark = pytest.mark.e2e

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
TIMEOUT = 30
PAST = "2026-01-01T00:00:00Z"
HOLDING = ("PENDING", "ACTIVE")
SWEEP_TIMEOUT_S = 120
POLL_DEADLINE_S = 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # Every refused attempt must be answered with its own error, not rate limited.
    running = start_stack(tmp_path_factory.mktemp("stack"), {"REFUSALS_PER_KEY_PER_MINUTE": "100000"})
    yield running
    kill_everything(running.process, running.api_pgid)


# -- helpers -------------------------------------------------------------------------------------


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_now(**delta) -> str:
    return _rfc3339(datetime.now(UTC) + timedelta(**delta))


def _code(reply: requests.Response) -> str | None:
    try:
        return reply.json().get("error", {}).get("code")
    except ValueError:
        return None


def _show(reply: requests.Response) -> str:
    return f"{reply.request.method} {reply.request.path_url} -> {reply.status_code} {reply.text[:400]}"


def _ok(reply: requests.Response, *statuses: int) -> requests.Response:
    """The reply, which must have one of ``statuses`` (never a 5xx)."""
    assert reply.status_code in statuses, _show(reply)
    return reply


def _no_5xx(replies: list[requests.Response]) -> None:
    server_errors = [_show(r) for r in replies if r.status_code >= 500]
    assert not server_errors, f"{len(server_errors)} of {len(replies)} answers were 5xx: {server_errors[:3]}"


class Api:
    """One caller of the API with its own session (one per thread, never shared)."""

    def __init__(self, stack, headers: dict[str, str] | None = None) -> None:
        self.base = stack.base_url
        self.session = requests.Session()
        self.headers = headers or {}

    def call(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs) -> requests.Response:
        return self.session.request(
            method, f"{self.base}{path}", headers={**self.headers, **(headers or {})}, timeout=TIMEOUT, **kwargs
        )

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


class Tenant:
    """A tenant made through the operator API, with its keys."""

    def __init__(self, stack, name: str) -> None:
        self.stack = stack
        created = _ok(
            Api(stack, OPERATOR).post("/v1/tenants", json={"name": name, "owner_email": "ops@race.example"}), 201
        ).json()
        self.tenant_id = created["tenant_id"]
        self.api_key = created["api_key"]
        self.activation_key = created["activation_key"]
        self.admin_headers = {"Authorization": f"Bearer {self.api_key}"}

    def admin(self) -> Api:
        return Api(self.stack, self.admin_headers)

    def operator(self) -> Api:
        return Api(self.stack, OPERATOR)

    def contract(
        self,
        capacity: int,
        *,
        contract_id: str = "C-1",
        starts_at: str = PAST,
        ends_at: str | None = None,
        api: Api | None = None,
    ) -> requests.Response:
        body = {"contract_id": contract_id, "capacity": capacity, "starts_at": starts_at, "ends_at": ends_at}
        return (api or self.operator()).post(f"/v1/tenants/{self.tenant_id}/contracts", json=body)

    def trial(self, days: int, instances: int) -> None:
        _ok(
            self.operator().post(f"/v1/tenants/{self.tenant_id}/trial", json={"days": days, "instances": instances}),
            201,
        )

    def pool(self, capacity: int, name: str = "Max") -> str:
        created = _ok(
            self.admin().post("/v1/license-types", json={"name": name, "sku": "VLM-MAX-SPLA", "capacity": capacity}),
            201,
        ).json()
        return created["lic_type_id"]

    def pools(self, api: Api | None = None) -> list[dict]:
        return _ok((api or self.admin()).get("/v1/license-types"), 200).json()["license_types"]

    def license(self, api: Api | None = None) -> dict:
        return _ok((api or self.admin()).get("/v1/license"), 200).json()

    def as_operator_sees_it(self) -> dict:
        return _ok(self.operator().get(f"/v1/tenants/{self.tenant_id}"), 200).json()

    def devices(self) -> list[dict]:
        api, found, cursor = self.admin(), [], None
        while True:
            params = {"limit": 100, **({"next": cursor} if cursor else {})}
            page = _ok(api.get("/v1/devices", params=params), 200).json()
            found += page["devices"]
            cursor = page["next"]
            if not cursor:
                return found

    def activate(self, n: int, lic_type_id: str, api: Api | None = None) -> requests.Response:
        return (api or Api(self.stack)).post(
            "/v1/activations",
            json={**loadmaster(n), "lic_type_id": lic_type_id},
            headers={"X-Activation-Key": self.activation_key},
        )

    def recount(self) -> dict:
        """Pools' and tenant's counters against the devices that hold an instance; the contract
        against the pools. Answers the tenant's licensing state."""
        holding: dict[str, int] = {}
        for device in self.devices():
            if device["status"] in HOLDING:
                holding[device["lic_type_id"]] = holding.get(device["lic_type_id"], 0) + 1
        pools = self.pools()
        state = self.license()
        for p in pools:
            assert p["in_use"] == holding.get(p["lic_type_id"], 0), (p, holding)
        assert state["in_use"] == sum(holding.values()), (state, holding)
        if state["state"] == "LICENSED":
            assert sum(p["capacity"] for p in pools) <= state["capacity"], (state, pools)
            assert state["in_use"] <= state["capacity"], (state, pools)
            for p in pools:
                if p["overage_policy"] == "NO_OVERAGE":
                    assert p["in_use"] <= p["capacity"], p
        return state


def _moved_ip(n: int) -> str:
    return f"172.16.{n >> 8}.{n & 255}"


def _check_in_body(n: int, ip: str | None = None) -> dict:
    body = {k: loadmaster(n)[k] for k in ("mac", "ip", "port", "version")}
    return {**body, "ip": ip or body["ip"]}


class Device:
    """An activated LoadMaster: its id, its token and its number (MAC, IP)."""

    def __init__(self, tenant: Tenant, n: int, lic_type_id: str) -> None:
        self.tenant, self.n = tenant, n
        granted = _ok(tenant.activate(n, lic_type_id), 201).json()
        self.device_id = granted["device_id"]
        self.token = granted["device_token"]

    def api(self) -> Api:
        return Api(self.tenant.stack, {"Authorization": f"Device {self.token}"})

    def confirm(self) -> None:
        _ok(self.api().post(f"/v1/devices/{self.device_id}/confirm"), 200)

    def check_in(self, ip: str | None = None, *, mac: str | None = None, api: Api | None = None) -> requests.Response:
        body = _check_in_body(self.n, ip)
        if mac:
            body["mac"] = mac
        return (api or self.api()).post(f"/v1/devices/{self.device_id}/check-ins", json=body)

    def move(self) -> None:
        """Check in from a new IP: the device's address claim moves with it."""
        _ok(self.check_in(_moved_ip(self.n)), 200)
        seen = _ok(self.tenant.admin().get(f"/v1/devices/{self.device_id}"), 200).json()
        assert seen["ip"] == _moved_ip(self.n), seen

    def read(self) -> requests.Response:
        return self.tenant.admin().get(f"/v1/devices/{self.device_id}")


def _activate_many(tenant: Tenant, lic_type_id: str, numbers: range, threads: int = 6) -> None:
    def one(n: int) -> int:
        return tenant.activate(n, lic_type_id, Api(tenant.stack)).status_code

    with ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(one, numbers))
    assert statuses == [201] * len(numbers), sorted(set(statuses))


def _fill(tenant: Tenant, first_n: int) -> tuple[int, list[int]]:
    """Activate LoadMasters into every pool until each refuses; (granted, statuses seen)."""
    api, n, granted, statuses = Api(tenant.stack), first_n, 0, []
    for p in tenant.pools():
        for _ in range(p["capacity"] + 1):
            reply = tenant.activate(n, p["lic_type_id"], api)
            n += 1
            statuses.append(reply.status_code)
            assert reply.status_code in (201, 409), _show(reply)
            if reply.status_code == 409:
                assert _code(reply) == "INSTANCE_LIMIT_REACHED", _show(reply)
                break
            granted += 1
    return granted, statuses


def _sweep(stack, name: str, at: str) -> subprocess.Popen:
    """``python -m local.sweep`` started; its output goes to files (a full pipe nobody drains
    would stall it in the middle of the race)."""
    # Closed by _outcome, once the sweep has exited.
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # noqa: SIM115
    sweep = subprocess.Popen(
        [sys.executable, "-m", "local.sweep", name, "--port", str(stack.port), "--at", at],
        cwd=ROOT,
        stdout=out,
        stderr=err,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")},
    )
    sweep.output_files = (out, err)
    return sweep


def _outcome(sweep: subprocess.Popen) -> tuple[int, str, str]:
    """The sweep's exit code, stdout (its reports) and the end of its stderr."""
    try:
        sweep.wait(SWEEP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        sweep.kill()
        sweep.wait()
        pytest.fail(f"the sweep did not finish within {SWEEP_TIMEOUT_S} s")
    texts = []
    for file in sweep.output_files:
        with file:
            file.seek(0)
            texts.append(file.read())
    return sweep.returncode, texts[0], texts[1][-3000:]


def _finish(sweep: subprocess.Popen) -> str:
    code, out, err = _outcome(sweep)
    assert code == 0, f"the sweep exited with {code}:\n{err}"
    stopped = [name for name, report in json.loads(out).items() if report.get("stopped_early")]
    assert not stopped, f"{stopped} stopped with work left: the run's budget, not the race, decided:\n{err}"
    return out


def _run_sweep(stack, name: str, at: str) -> str:
    return _finish(_sweep(stack, name, at))


# -- 1. pools cannot multiply a contract (invariant 7) -------------------------------------------

CONTRACT = 10


def test_concurrent_pool_creates_cannot_exceed_the_contract(stack):
    writers = 6
    for round_no in range(3):
        tenant = Tenant(stack, f"Pools {round_no}")
        _ok(tenant.contract(CONTRACT), 201)
        start = Barrier(writers)

        def create(i: int, tenant=tenant, start=start) -> requests.Response:
            api = tenant.admin()
            start.wait()
            return api.post(
                "/v1/license-types", json={"name": f"Pool {i}", "sku": "VLM-MAX-SPLA", "capacity": CONTRACT}
            )

        with ThreadPoolExecutor(writers) as pool:
            replies = list(pool.map(create, range(writers)))
        _no_5xx(replies)
        statuses = sorted(r.status_code for r in replies)
        total = sum(p["capacity"] for p in tenant.pools())
        granted, _ = _fill(tenant, 1)
        in_use = tenant.license()["in_use"]
        seen = f"round {round_no}: creates {statuses}, pools' capacities {total}, instances granted {granted}"
        assert statuses == [201] + [409] * (writers - 1), seen
        assert {_code(r) for r in replies if r.status_code == 409} == {"CONFLICT"}, seen
        assert total <= CONTRACT, seen
        assert granted <= CONTRACT and in_use <= CONTRACT, seen
        tenant.recount()


def test_concurrent_pool_raises_cannot_exceed_the_contract(stack):
    # Each raise fits alone (3 + 7 = 10); both together would promise 14 on a 10 contract.
    for round_no in range(5):
        tenant = Tenant(stack, f"Raises {round_no}")
        _ok(tenant.contract(CONTRACT), 201)
        pools = [tenant.pool(3, "A"), tenant.pool(3, "B")]
        start = Barrier(len(pools))

        def raise_pool(lic_type_id: str, tenant=tenant, start=start) -> requests.Response:
            api = tenant.admin()
            start.wait()
            return api.patch(f"/v1/license-types/{lic_type_id}", json={"capacity": 7})

        with ThreadPoolExecutor(len(pools)) as pool:
            replies = list(pool.map(raise_pool, pools))
        _no_5xx(replies)
        statuses = sorted(r.status_code for r in replies)
        total = sum(p["capacity"] for p in tenant.pools())
        granted, _ = _fill(tenant, 1)
        seen = f"round {round_no}: PATCHes {statuses}, pools' capacities {total}, instances granted {granted}"
        assert statuses.count(200) <= 1 and set(statuses) <= {200, 409}, seen
        assert {_code(r) for r in replies if r.status_code == 409} <= {"CONFLICT"}, seen
        assert total <= CONTRACT, seen
        assert granted <= CONTRACT and tenant.license()["in_use"] <= CONTRACT, seen
        tenant.recount()


def test_a_renewal_to_a_smaller_contract_racing_a_pool_raise_cannot_exceed_it(stack):
    smaller = 6
    for round_no in range(6):
        tenant = Tenant(stack, f"Renewal {round_no}")
        _ok(tenant.contract(CONTRACT), 201)
        a, _b = tenant.pool(3, "A"), tenant.pool(3, "B")
        start = Barrier(2)

        def renew(tenant=tenant, start=start) -> requests.Response:
            api = tenant.operator()
            start.wait()
            return tenant.contract(smaller, contract_id="C-2", api=api)

        def raise_pool(tenant=tenant, start=start, a=a) -> requests.Response:
            api = tenant.admin()
            start.wait()
            return api.patch(f"/v1/license-types/{a}", json={"capacity": 7})

        with ThreadPoolExecutor(2) as pool:
            renewal, patch = pool.submit(renew), pool.submit(raise_pool)
            renewal, patch = renewal.result(), patch.result()
        _no_5xx([renewal, patch])
        capacity = tenant.as_operator_sees_it()["capacity"]
        total = sum(p["capacity"] for p in tenant.pools())
        granted, _ = _fill(tenant, 1)
        in_use = tenant.license()["in_use"]
        seen = (
            f"round {round_no}: renewal {renewal.status_code}, PATCH {patch.status_code}, tenant capacity "
            f"{capacity}, pools' capacities {total}, instances granted {granted}, in use {in_use}"
        )
        assert renewal.status_code in (201, 409) and patch.status_code in (200, 409), seen
        for reply in (renewal, patch):
            if reply.status_code == 409:
                assert _code(reply) == "CONFLICT", seen
        assert total <= capacity, seen
        assert in_use <= capacity and granted <= capacity, seen
        tenant.recount()


# -- 3. a release after an address move never fails (invariant 8) ----------------------------------


def _licensed_tenant(stack, name: str, capacity: int = 50) -> tuple[Tenant, str]:
    tenant = Tenant(stack, name)
    _ok(tenant.contract(capacity), 201)
    return tenant, tenant.pool(capacity)


def test_an_admin_delete_after_an_address_move_releases_the_instance(stack):
    tenant, lic_type_id = _licensed_tenant(stack, "Moved delete")
    device = Device(tenant, 1, lic_type_id)
    device.confirm()
    device.move()
    reply = tenant.admin().delete(f"/v1/devices/{device.device_id}")
    assert 200 <= reply.status_code < 300, _show(reply)
    _ok(device.read(), 404)
    assert tenant.recount()["in_use"] == 0


def test_a_loadmaster_deactivate_after_an_address_move_releases_the_instance(stack):
    tenant, lic_type_id = _licensed_tenant(stack, "Moved deactivate")
    device = Device(tenant, 1, lic_type_id)
    device.confirm()
    device.move()
    reply = _ok(device.api().post(f"/v1/devices/{device.device_id}/deactivate"), 200)
    assert reply.json()["status"] == "DEACTIVATED"
    assert tenant.recount()["in_use"] == 0


def test_a_termination_after_an_address_move_releases_every_instance(stack):
    tenant, lic_type_id = _licensed_tenant(stack, "Moved terminate")
    devices = [Device(tenant, n, lic_type_id) for n in range(3)]
    for device in devices:
        device.confirm()
    devices[1].move()
    reply = _ok(tenant.operator().post(f"/v1/tenants/{tenant.tenant_id}/terminate"), 200)
    assert reply.json()["state"] == "TERMINATED"
    state = tenant.recount()
    assert (state["state"], state["in_use"]) == ("TERMINATED", 0)
    assert {d["status"] for d in tenant.devices()} == {"DEACTIVATED"}


def test_block_unconfirmed_blocks_a_pending_device_that_moved(stack):
    tenant, lic_type_id = _licensed_tenant(stack, "Moved pending")
    device = Device(tenant, 1, lic_type_id)
    device.move()  # a PENDING device checks in too, from its new address
    confirm_by = datetime.fromisoformat(_ok(device.read(), 200).json()["confirm_by"].replace("Z", "+00:00"))
    _run_sweep(stack, "block_unconfirmed", _rfc3339(confirm_by + timedelta(minutes=5)))
    assert _ok(device.read(), 200).json()["status"] == "BLOCKED"
    assert tenant.recount()["in_use"] == 0


def test_expire_trials_releases_moved_devices_of_every_expired_trial(stack):
    tenants = []
    for name in ("Moved trial 1", "Moved trial 2"):
        tenant = Tenant(stack, name)
        tenant.trial(days=1, instances=5)
        lic_type_id = tenant.pools()[0]["lic_type_id"]
        devices = [Device(tenant, n, lic_type_id) for n in range(2)]
        devices[0].confirm()
        devices[0].move()
        devices[1].move()
        tenants.append(tenant)
    _run_sweep(stack, "expire_trials", _from_now(days=2))
    for tenant in tenants:
        state = tenant.recount()
        assert (state["state"], state["in_use"]) == ("EXPIRED", 0), state


def _racing_moving_check_ins(device, api, call) -> tuple[requests.Response, list[requests.Response]]:
    """``call(api)`` (each on a session of its own) at the same moment as six check-ins of
    ``device`` alternating between its two addresses, so its address claim moves under it."""
    start = Barrier(2)

    def one_call() -> requests.Response:
        start.wait()
        return call(api)

    def check_ins() -> list[requests.Response]:
        own = device.api()
        start.wait()
        ips = (_moved_ip(device.n), loadmaster(device.n)["ip"])
        return [device.check_in(ips[i % 2], api=own) for i in range(6)]

    with ThreadPoolExecutor(2) as pool:
        answer, burst = pool.submit(one_call), pool.submit(check_ins)
        return answer.result(), burst.result()


def test_admin_deletes_racing_check_ins_that_move_the_address_never_fail(stack):
    tenant, lic_type_id = _licensed_tenant(stack, "Delete race", capacity=40)
    for round_no in range(30):
        device = Device(tenant, round_no, lic_type_id)
        device.confirm()
        deleted, burst = _racing_moving_check_ins(
            device, tenant.admin(), lambda api, device=device: api.delete(f"/v1/devices/{device.device_id}")
        )
        _no_5xx([deleted, *burst])
        assert deleted.status_code in (200, 204, 409), _show(deleted)
        if deleted.status_code == 409:
            assert _code(deleted) == "CONFLICT", _show(deleted)
        else:
            _ok(device.read(), 404)
        tenant.recount()


def test_loadmaster_deactivates_racing_its_own_moving_check_ins_never_fail(stack):
    tenant, lic_type_id = _licensed_tenant(stack, "Deactivate race", capacity=20)
    for round_no in range(12):
        device = Device(tenant, round_no, lic_type_id)
        device.confirm()
        deactivated, burst = _racing_moving_check_ins(
            device, device.api(), lambda api, device=device: api.post(f"/v1/devices/{device.device_id}/deactivate")
        )
        _no_5xx([deactivated, *burst])
        if deactivated.status_code == 409:  # a lost race may be reported; asked again, it succeeds
            assert _code(deactivated) == "CONFLICT", _show(deactivated)
            deactivated = device.api().post(f"/v1/devices/{device.device_id}/deactivate")
        assert _ok(deactivated, 200).json()["status"] == "DEACTIVATED", _show(deactivated)
        assert _ok(device.read(), 200).json()["status"] == "DEACTIVATED"
        tenant.recount()


def test_block_unconfirmed_racing_moving_check_ins_never_aborts(stack):
    tenant, lic_type_id = _licensed_tenant(stack, "Block race", capacity=20)
    devices = [Device(tenant, n, lic_type_id) for n in range(12)]
    confirm_by = max(
        datetime.fromisoformat(_ok(d.read(), 200).json()["confirm_by"].replace("Z", "+00:00")) for d in devices
    )
    at = _rfc3339(confirm_by + timedelta(minutes=5))
    start = Barrier(3)

    def mover(half: int) -> list[requests.Response]:
        mine = devices[half::2]
        apis = [d.api() for d in mine]
        start.wait()
        return [
            device.check_in((_moved_ip(device.n), loadmaster(device.n)["ip"])[i % 2], api=api)
            for i in range(4)
            for device, api in zip(mine, apis, strict=True)
        ]

    def sweep() -> subprocess.Popen:
        start.wait()
        return _sweep(stack, "block_unconfirmed", at)

    with ThreadPoolExecutor(3) as pool:
        movers = [pool.submit(mover, half) for half in (0, 1)]
        running = pool.submit(sweep)
        check_ins = [r for m in movers for r in m.result()]
        running = running.result()
    first_run, _, first_err = _outcome(running)
    _no_5xx(check_ins)
    assert first_run == 0, f"block_unconfirmed racing moving check-ins exited with {first_run}:\n{first_err}"
    _run_sweep(stack, "block_unconfirmed", at)  # finishes what a lost race skipped
    assert {_ok(d.read(), 200).json()["status"] for d in devices} == {"BLOCKED"}
    assert tenant.recount()["in_use"] == 0


def test_wind_downs_racing_address_moves_never_fail_and_release_everything(stack):
    """Terminate and expire_trials while every device keeps checking in from alternating
    addresses: never a 5xx, never an aborted sweep; a run again (as the next hourly one)
    finishes what a lost race skipped."""
    per_tenant = 8
    terminated, trial_a, trial_b = (
        Tenant(stack, "Race terminate"),
        Tenant(stack, "Race trial A"),
        Tenant(stack, "Race trial B"),
    )
    _ok(terminated.contract(per_tenant), 201)
    fleets = {terminated: terminated.pool(per_tenant)}
    for tenant in (trial_a, trial_b):
        tenant.trial(days=1, instances=per_tenant)
        fleets[tenant] = tenant.pools()[0]["lic_type_id"]
    devices = [Device(tenant, n, lic_type_id) for tenant, lic_type_id in fleets.items() for n in range(per_tenant)]
    for device in devices[::2]:
        device.confirm()
    start = Barrier(3)

    def mover(half: int) -> list[requests.Response]:
        mine = devices[half::2]
        apis = [d.api() for d in mine]
        start.wait()
        replies = []
        for i in range(4):
            for device, api in zip(mine, apis, strict=True):
                ips = (_moved_ip(device.n), loadmaster(device.n)["ip"])
                replies.append(device.check_in(ips[i % 2], api=api))
        return replies

    def wind_down() -> tuple[requests.Response, subprocess.Popen]:
        api = terminated.operator()
        start.wait()
        sweep = _sweep(stack, "expire_trials", _from_now(days=2))
        return api.post(f"/v1/tenants/{terminated.tenant_id}/terminate"), sweep

    with ThreadPoolExecutor(3) as pool:
        movers = [pool.submit(mover, half) for half in (0, 1)]
        winding = pool.submit(wind_down)
        check_ins = [r for m in movers for r in m.result()]
        termination, sweep = winding.result()
    first_run, _, first_err = _outcome(sweep)
    _no_5xx([*check_ins, termination])
    _ok(termination, 200)
    assert first_run == 0, f"expire_trials racing moving check-ins exited with {first_run}:\n{first_err}"
    # What a lost race skipped, the next run finishes.
    _ok(terminated.operator().post(f"/v1/tenants/{terminated.tenant_id}/terminate"), 200)
    _run_sweep(stack, "expire_trials", _from_now(days=2))
    for tenant, state in ((terminated, "TERMINATED"), (trial_a, "EXPIRED"), (trial_b, "EXPIRED")):
        seen = tenant.recount()
        assert (seen["state"], seen["in_use"]) == (state, 0), seen


# -- 4. a clone cannot share an instance (invariant 9) --------------------------------------------


def test_a_clone_with_another_mac_is_refused_and_changes_nothing(stack):
    tenant, lic_type_id = _licensed_tenant(stack, "Clone")
    device = Device(tenant, 1, lic_type_id)
    device.confirm()
    _ok(device.check_in(), 200)
    before = _ok(device.read(), 200).json()
    clone_mac = loadmaster(2)["mac"]
    clone = device.check_in(loadmaster(2)["ip"], mac=clone_mac)
    assert (clone.status_code, _code(clone)) == (401, "VERIFY_FAILED"), _show(clone)
    after = _ok(device.read(), 200).json()
    for field in ("status", "mac", "ip", "port", "last_check_in_at"):
        assert after[field] == before[field], (field, before, after)
    # The original LoadMaster is untouched and keeps its instance.
    _ok(device.check_in(), 200)
    events = _ok(tenant.admin().get("/v1/events", params={"limit": 100}), 200).json()["events"]
    suspected = [
        e
        for e in events
        if e["kind"] == "device.clone_suspected"
        and device.device_id in (e.get("device_id"), (e.get("detail") or {}).get("device_id"))
    ]
    assert suspected, [(e["kind"], e.get("device_id")) for e in events]
    assert tenant.recount()["in_use"] == 1


# -- 2. a renewal racing the wind-down keeps the fleet (invariant 8) -------------------------------

FLEET = 150


def _renew_mid_sweep(stack, tenant: Tenant, sweep_name: str, at: str) -> None:
    """Start the sweep, wait until the wind-down is under way, renew, and check that no device
    was released after the renewal landed."""
    before = tenant.license()["in_use"]
    assert before == FLEET
    sweep = _sweep(stack, sweep_name, at)
    try:
        api = tenant.admin()
        deadline = time.monotonic() + POLL_DEADLINE_S
        while True:
            in_use = tenant.license(api)["in_use"]
            if in_use <= before - 10:
                break
            assert sweep.poll() is None, f"the sweep ended before the wind-down was seen (in_use {in_use})"
            assert time.monotonic() < deadline, f"the wind-down did not start within {POLL_DEADLINE_S} s"
        renewal = tenant.contract(200, contract_id="C-RENEWED")
        read_right_after = tenant.license(api)["in_use"]
        sweep_running = sweep.poll() is None
    finally:
        _finish(sweep)
    _ok(renewal, 201)
    when_renewed = renewal.json().get("in_use")
    if when_renewed is None:
        when_renewed = read_right_after
    after = tenant.license()
    holding = sum(1 for d in tenant.devices() if d["status"] in HOLDING)
    seen = (
        f"in use: {before} before the sweep, {in_use} when the renewal was sent, {when_renewed} in the "
        f"renewal's answer, {after['in_use']} after the sweep ({after['state']}), {holding} devices holding; "
        f"sweep still running when the renewal was answered: {sweep_running}"
    )
    assert when_renewed > 0, f"the renewal landed after the wind-down had finished; race not exercised: {seen}"
    assert after["state"] == "LICENSED", seen
    assert after["in_use"] == when_renewed, seen
    assert holding == after["in_use"], seen
    tenant.recount()


def test_a_contract_landing_while_expire_trials_winds_a_trial_down_keeps_the_fleet(stack):
    tenant = Tenant(stack, "Trial fleet")
    tenant.trial(days=1, instances=FLEET)
    lic_type_id = tenant.pools()[0]["lic_type_id"]
    _activate_many(tenant, lic_type_id, range(FLEET))
    _renew_mid_sweep(stack, tenant, "expire_trials", _from_now(days=2))


def test_a_renewal_landing_while_expire_trials_winds_a_lapsed_contract_down_keeps_the_fleet(stack):
    tenant = Tenant(stack, "Lapsing fleet")
    ends_at = datetime.now(UTC) + timedelta(hours=1)
    _ok(tenant.contract(FLEET, contract_id="C-LAPSING", ends_at=_rfc3339(ends_at)), 201)
    lic_type_id = tenant.pool(FLEET)
    _activate_many(tenant, lic_type_id, range(FLEET))
    _renew_mid_sweep(stack, tenant, "expire_trials", _rfc3339(ends_at + timedelta(hours=1)))
