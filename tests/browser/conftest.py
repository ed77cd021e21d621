"""The web console in headless Chromium, against the local stack in a subprocess.

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright's Python package with
``executable_path``: Playwright's own browser download is never used (``playwright install``
cannot run here). ``make test`` installs it (the Makefile's ``$(CHROMIUM)`` target); a test
never installs anything, and fails with what to run when the browser is missing.

One stack per module, with one seeded tenant that the tests only read; a test that changes
something (unblocks, deletes, rotates a key) does it in a tenant of its own (``own_tenant``),
so the tests pass in any order. One browser per session; a fresh context (so a fresh
``sessionStorage``) per test.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import _PASSED_ON, ROOT, RunningStack, kill_everything, start_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HTTP_TIMEOUT_S = 10

# Set CONSOLE_SCREENSHOTS=docs to refresh docs/console-*.png; otherwise they go to a temp dir.
SCREENSHOTS_ENV = "CONSOLE_SCREENSHOTS"

LOADMASTER = {"sku": "VLM-MAX-SPLA", "image": "LoadMaster-VLM-7.2.47-SPLA.ova", "version": "7.2.47"}


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the web console in headless Chromium")


# Chromium ---------------------------------------------------------------------------------------


def ensure_chromium() -> Path:
    """Debian's chromium, which ``make test`` installs before the suite runs."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM}: run the tests with `make test`, which "
            "installs it, or install it yourself (apt-get install -y chromium)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    executable = ensure_chromium()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


# The stack and its seeded tenant ----------------------------------------------------------------


@dataclass
class Seeded:
    """A tenant on the stack and its LoadMasters: the demo tenant after ``seed`` (what the
    console should show), or a test's own tenant (``own_tenant``)."""

    stack: RunningStack
    api_key: str
    operator_key: str
    lic_type_id: str
    activation_key: str
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {device_id, mac, ip, port}
    metered_hours: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    @property
    def console_url(self) -> str:
        return f"{self.base_url}/console"

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.base_url}{path}", headers=self.admin(), params=params, timeout=HTTP_TIMEOUT_S)

    def device(self, name: str) -> dict[str, Any]:
        reply = self.get(f"/v1/devices/{self.devices[name]['device_id']}")
        return {"http_status": reply.status_code, **reply.json()}


def _clean_env() -> dict[str, str]:
    return {name: os.environ[name] for name in _PASSED_ON if name in os.environ}


def run_sweep(stack: RunningStack, name: str, at: datetime) -> dict:
    """``python -m local.sweep NAME --port P --at T``, as an operator would run it."""
    result = subprocess.run(
        [sys.executable, "-m", "local.sweep", name, "--port", str(stack.port), "--at", rfc3339(at)],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


_METER = """\
import json, sys
from local.environment import use_local_environment
from local.stack import run_scheduled
use_local_environment(moto_endpoint=sys.argv[1], operator_key="")
print(json.dumps([run_scheduled(["meter_usage"], at) for at in json.loads(sys.argv[2])]))
"""


def meter_hours(stack: RunningStack, hours: list[datetime]) -> None:
    """``meter_usage`` at several hours in one process (as ``local.sweep`` does for one)."""
    result = subprocess.run(
        [sys.executable, "-c", _METER, stack.info["moto_endpoint"], json.dumps([rfc3339(h) for h in hours])],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def _activate(tenant: Seeded, name: str, mac: str, ip: str) -> dict[str, Any]:
    body = {**LOADMASTER, "mac": mac, "ip": ip, "port": 443, "lic_type_id": tenant.lic_type_id}
    reply = requests.post(
        f"{tenant.base_url}/v1/activations",
        json=body,
        timeout=HTTP_TIMEOUT_S,
        headers={"X-Activation-Key": tenant.activation_key},
    )
    assert reply.status_code == 201, reply.text
    device = {"name": name, "mac": body["mac"], "ip": body["ip"], "port": body["port"], **reply.json()}
    tenant.devices[name] = device
    return device


def device_call(stack: RunningStack, device: dict[str, Any], action: str, body: dict | None = None) -> None:
    reply = requests.post(
        f"{stack.base_url}/v1/devices/{device['device_id']}/{action}",
        json=body,
        headers={"Authorization": f"Device {device['device_token']}"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert reply.status_code == 200, reply.text


def seed(stack: RunningStack) -> Seeded:
    """The demo tenant (trial, 5 instances of VLM-MAX-SPLA) with eleven LoadMasters: two
    confirmed and checking in, one confirmed then deactivated by itself, one that never
    confirmed (BLOCKED by ``block_unconfirmed`` two days later), one still PENDING, six more
    that deactivated themselves (two pages of 10 rows); and a few metered hours of the current
    month with the instances in use changing."""
    info = stack.info
    seeded = Seeded(stack, info["api_key"], info["operator_key"], info["lic_type_id"], info["activation_key"])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    month_start = now.replace(day=1, hour=0)
    first_hour = max(month_start, now - timedelta(hours=6))
    hours = [first_hour + timedelta(hours=i) for i in range(5)]

    def add(name: str, n: int) -> dict[str, Any]:
        return _activate(seeded, name, f"00:50:56:c0:ff:{n:02x}", f"10.20.0.{n}")

    alpha, bravo = add("alpha", 1), add("bravo", 2)
    meter_hours(stack, hours[:1])  # 2 in use
    charlie, _ = add("charlie", 3), add("delta", 4)
    meter_hours(stack, hours[1:3])  # 4 in use
    for device in (alpha, bravo, charlie):
        device_call(stack, device, "confirm")
    for device in (alpha, bravo):
        device_call(
            stack,
            device,
            "check-ins",
            {"mac": device["mac"], "ip": device["ip"], "port": device["port"], "version": LOADMASTER["version"]},
        )
    device_call(stack, charlie, "deactivate")
    # delta never confirms: two days later block_unconfirmed blocks it (and gives its instance back).
    report = run_sweep(stack, "block_unconfirmed", datetime.now(UTC) + timedelta(days=2))
    assert report["block_unconfirmed"]["acted"] == 1, report
    again = {
        **LOADMASTER,
        "mac": seeded.devices["delta"]["mac"],
        "ip": "10.20.0.44",
        "port": 443,
        "lic_type_id": seeded.lic_type_id,
    }
    refused = requests.post(
        f"{stack.base_url}/v1/activations",
        json=again,
        timeout=HTTP_TIMEOUT_S,
        headers={"X-Activation-Key": info["activation_key"]},
    )
    assert refused.json()["error"]["code"] == "DEVICE_BLOCKED", refused.text  # in the debug log too
    add("echo", 5)  # PENDING, within its confirm window
    for n, name in enumerate(("foxtrot", "golf", "hotel", "india", "juliett", "kilo"), start=6):
        device_call(stack, add(name, n), "deactivate")  # old LoadMasters, gone: enough rows for two pages
    meter_hours(stack, hours[3:])  # 3 in use
    seeded.metered_hours = [rfc3339(h) for h in hours]
    assert seeded.device("delta")["status"] == "BLOCKED"
    return seeded


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Iterator[Seeded]:
    running = start_stack(tmp_path_factory.mktemp("browser-stack"))
    try:
        yield seed(running)
    finally:
        kill_everything(running.process, running.api_pgid)


_own = itertools.count(1)


@pytest.fixture
def own_tenant(seeded: Seeded) -> Callable[..., Seeded]:
    """``own_tenant(confirm_window_s=...)``: a fresh tenant on trial (5 instances of
    VLM-MAX-SPLA) on the module's stack, for a test that changes what it finds."""

    def make(*, confirm_window_s: int | None = None) -> Seeded:
        n = next(_own)
        operator = {"Authorization": f"Bearer {seeded.operator_key}"}
        created = requests.post(
            f"{seeded.base_url}/v1/tenants",
            json={"name": f"Own Tenant {n}", "owner_email": f"own{n}@example.com"},
            headers=operator,
            timeout=HTTP_TIMEOUT_S,
        )
        assert created.status_code == 201, created.text
        tenant_id = created.json()["tenant_id"]
        trial = requests.post(
            f"{seeded.base_url}/v1/tenants/{tenant_id}/trial", json={}, headers=operator, timeout=HTTP_TIMEOUT_S
        )
        assert trial.status_code == 201, trial.text
        admin = {"Authorization": f"Bearer {created.json()['api_key']}"}
        if confirm_window_s is not None:
            changed = requests.patch(
                f"{seeded.base_url}/v1/settings",
                json={"confirm_window_s": confirm_window_s},
                headers=admin,
                timeout=HTTP_TIMEOUT_S,
            )
            assert changed.status_code == 200, changed.text
        types = requests.get(f"{seeded.base_url}/v1/license-types", headers=admin, timeout=HTTP_TIMEOUT_S)
        return Seeded(
            seeded.stack,
            created.json()["api_key"],
            seeded.operator_key,
            types.json()["license_types"][0]["lic_type_id"],
            created.json()["activation_key"],
        )

    return make


def add_device(tenant: Seeded, name: str) -> dict[str, Any]:
    """A LoadMaster of ``tenant`` (PENDING), with a MAC and address no other test uses."""
    n = next(_own)
    return _activate(tenant, name, f"00:50:56:c1:{n >> 8:02x}:{n & 255:02x}", f"10.21.{n >> 8}.{n & 255}")


# Pages ------------------------------------------------------------------------------------------


class Console:
    """A page of the console, with what the browser said (console errors, page errors)."""

    def __init__(self, page, seeded: Seeded, shots: Path) -> None:
        self.page = page
        self.seeded = seeded
        self.shots = shots
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def as_tenant(self, tenant: Seeded) -> Console:
        """Sign in as, and look for the devices of, ``tenant`` instead of the seeded one."""
        self.seeded = tenant
        return self

    def open(self) -> Console:
        self.page.goto(self.seeded.console_url)
        self.page.wait_for_selector("#screen-signin:not([hidden])")
        return self

    def sign_in(self, key: str | None = None, *, expect: str = "#nav") -> Console:
        """With an API key (the sign-in page's second tab; email and password is the first)."""
        self.page.click("#tab-key")
        self.page.fill("#signin-key", key or self.seeded.api_key)
        self.page.click("#signin-form button[type=submit]")
        self.page.wait_for_selector(f"{expect}:not([hidden])")
        return self

    def go(self, screen: str) -> Console:
        self.page.click(f"#nav a[data-screen={screen}]")
        self.page.wait_for_selector(f"#screen-{screen}:not([hidden])")
        return self

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"console-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_no_errors(self) -> None:
        assert self.errors == [], self.errors


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get(SCREENSHOTS_ENV)
    if target:
        path = (ROOT / target).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def console(browser, seeded, shots) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(10_000)
    try:
        yield Console(context.new_page(), seeded, shots)
    finally:
        context.close()


# Accounts (people) ------------------------------------------------------------------------------
#
# The local stack's Cognito is moto's, which mails nothing: the stack writes each code AWS would
# have mailed to its mailbox (a JSON-lines file named in the stack's --json line, ``mailbox``),
# where ``mailed_code`` reads it, as a person reads their mail. moto does not check every code
# as AWS does (its ConfirmSignUp takes any code; its ConfirmForgotPassword checks only codes with
# its own prefix), so these tests show the console's flows with the right codes; that a wrong
# code is refused is the service's side, tested there.

PASSWORD = "Correct-Horse-42"  # the pool's policy: 12+ characters, lower and upper case, a digit
_people = itertools.count(1)


def mailed_code(stack: RunningStack, to: str, why: str) -> str:
    """The last code the stack "mailed" to ``to`` for ``why`` ("registration", "password reset")."""
    path = Path(stack.info["mailbox"])
    mails = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    codes = [m["code"] for m in mails if m["to"].lower() == to.lower() and m["why"] == why]
    assert codes, f"no {why} code was mailed to {to}: {mails}"
    return codes[-1]


def unique_email(label: str) -> str:
    return f"{label}-{next(_people)}-{os.getpid()}@example.com"


@dataclass
class Person:
    """An account on the stack (registered and confirmed through the API) and its session."""

    stack: RunningStack
    email: str
    password: str
    name: str
    access_token: str = ""
    account_id: str = ""

    def call(self, method: str, path: str, body: Any = None, tenant_id: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        if tenant_id:
            headers["X-Tenant-Id"] = tenant_id
        return requests.request(
            method, f"{self.stack.base_url}{path}", json=body, headers=headers, timeout=HTTP_TIMEOUT_S
        )

    def sign_in(self) -> Person:
        reply = requests.post(
            f"{self.stack.base_url}/v1/sessions",
            timeout=HTTP_TIMEOUT_S,
            json={"email": self.email, "password": self.password},
        )
        assert reply.status_code == 200, reply.text
        self.access_token = reply.json()["access_token"]
        account = self.call("GET", "/v1/account")
        assert account.status_code == 200, account.text
        self.account_id = account.json()["account_id"]
        return self

    def create_tenant(self, name: str, *, trial: bool = True) -> dict[str, Any]:
        """The tenant this person owns (on trial unless told otherwise), with its keys."""
        created = self.call("POST", "/v1/account/tenant", {"name": name})
        assert created.status_code == 201, created.text
        tenant = created.json()
        if trial:
            started = self.call("POST", "/v1/trial", {}, tenant_id=tenant["tenant_id"])
            assert started.status_code == 201, started.text
        return tenant

    def members(self, tenant_id: str) -> dict[str, dict[str, Any]]:
        reply = self.call("GET", "/v1/members", tenant_id=tenant_id)
        assert reply.status_code == 200, reply.text
        return {m["email"]: m for m in reply.json()["members"]}


def register(stack: RunningStack, label: str, *, confirm: bool = True) -> Person:
    """A new account through the API (confirmed with its mailed code unless told otherwise)."""
    person = Person(stack, unique_email(label), PASSWORD, label.title())
    reply = requests.post(
        f"{stack.base_url}/v1/accounts",
        timeout=HTTP_TIMEOUT_S,
        json={"email": person.email, "password": person.password, "name": person.name},
    )
    assert reply.status_code == 202, reply.text
    if confirm:
        code = mailed_code(stack, person.email, "registration")
        confirmed = requests.post(
            f"{stack.base_url}/v1/accounts/confirm", json={"email": person.email, "code": code}, timeout=HTTP_TIMEOUT_S
        )
        assert confirmed.status_code == 200, confirmed.text
        person.sign_in()
    return person


def join(owner: Person, tenant_id: str, member: Person, role: str) -> None:
    """``member`` in ``owner``'s tenant as ``role`` (an invitation of a confirmed account)."""
    invited = owner.call("POST", "/v1/members", {"email": member.email, "role": role}, tenant_id=tenant_id)
    assert invited.status_code == 201, invited.text
    assert owner.members(tenant_id)[member.email]["role"] == role


def sign_in_as(console: Console, email: str, password: str, *, expect: str = "#nav:not([hidden])") -> Console:
    """Through the sign-in page's first tab (email and password)."""
    page = console.page
    page.fill("#signin-email", email)
    page.fill("#signin-password", password)
    page.click("#account-form button[type=submit]")
    page.wait_for_selector(expect)
    return console


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Iterator[Seeded]:
    """A stack with its demo account and tenant only (no LoadMaster), for the accounts' tests;
    their rate limits raised so that one address (this test) may register and sign in often."""
    limits = {"ACCOUNT_ATTEMPTS_PER_ADDRESS_PER_HOUR": "10000", "ACCOUNT_ATTEMPTS_PER_EMAIL_PER_HOUR": "100"}
    running = start_stack(tmp_path_factory.mktemp("browser-accounts-stack"), limits)
    try:
        assert running.info.get("mailbox") and running.info.get("account_email"), running.info
        info = running.info
        yield Seeded(running, info["api_key"], info["operator_key"], info["lic_type_id"], info["activation_key"])
    finally:
        kill_everything(running.process, running.api_pgid)
