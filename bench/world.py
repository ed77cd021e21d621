"""The app in a world of its own: its settings, an in-process moto with the tables and the
accounts' user pool, the clock pinned, and the app behind Chalice's test client (``World``), with
the tenants, LoadMasters and scheduled events the benchmarks drive it with.

``World`` configures the service (``chalicelib.startup.configure``) with the settings of
``tests/conftest.py`` and the pool's ids, so the benchmarks and the test suite can share one
process. Its Cognito behaves as the local stack's (``local.accounts``): a confirmation verifies the
email, and the codes AWS would mail are in ``World.mailbox``.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from moto import mock_aws

from bench.moto_scale import fast_transactions
from local.accounts import Mailbox, confirming_as_cognito, delivering_to
from local.environment import TEST_OPERATOR_KEY, local_settings, use_fake_aws_credentials

OPERATOR_KEY = TEST_OPERATOR_KEY
# The app's settings for an in-process moto; never a real AWS endpoint or credential.
SETTINGS = local_settings(moto_endpoint=None, operator_key=OPERATOR_KEY)
TABLE_PREFIX = SETTINGS.table_prefix
T0 = datetime(2026, 11, 28, 20, 0, 0, tzinfo=UTC)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    size: int  # bytes of the response body


class Api:
    """Chalice's test client, speaking JSON (as tests/conftest.py's)."""

    def __init__(self, client) -> None:
        self.client = client

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        payload = json.dumps(body) if body is not None else None
        response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)
        raw = response.body if isinstance(response.body, bytes) else (response.body or "").encode()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Reply(response.status_code, parsed, dict(response.headers), len(raw))


def operator_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_KEY}"}


def scheduled_event(at: datetime) -> dict:
    """An EventBridge scheduled event whose ``time`` is ``at``."""
    return {
        "version": "0",
        "id": "bench",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"],
        "detail": {},
    }


def loadmaster(n: int, sku: str = "VLM-MAX-SPLA") -> dict:
    """The n-th LoadMaster: its own MAC and address."""
    return {
        "mac": f"00:50:56:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}",
        "ip": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}",
        "port": 443,
        "sku": sku,
        "image": "LoadMaster-VLM-7.2.47-SPLA.ova",
        "version": "7.2.47",
    }


@dataclass
class Tenant:
    tenant_id: str
    api_key: str
    activation_key: str
    types: dict[str, str] = field(default_factory=dict)  # sku -> lic_type_id

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def loadmaster(self) -> dict[str, str]:
        return {"X-Activation-Key": self.activation_key}


@dataclass
class Device:
    device_id: str
    token: str
    lm: dict

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Device {self.token}"}

    @property
    def check_in_body(self) -> dict:
        return {k: self.lm[k] for k in ("mac", "ip", "port", "version")}


class World:
    """A fresh in-process moto with every table and the user pool, the clock pinned, and the app
    behind Chalice's test client. Use as a context manager; one at a time per process."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self._stack = contextlib.ExitStack()
        self._devices = 0
        self.api: Api

    def __enter__(self) -> World:
        from app import app
        from chalicelib import clock
        from chalicelib.startup import configure
        from chalicelib.store import create_tables, create_user_pool
        from local.schedules import Client

        use_fake_aws_credentials()
        self._stack.enter_context(mock_aws())
        self._stack.enter_context(fast_transactions())
        configure(SETTINGS)  # nothing cached from another moto
        self._stack.callback(configure, SETTINGS)
        create_tables()
        pool_id, client_id = create_user_pool()
        configure(SETTINGS.model_copy(update={"cognito_user_pool_id": pool_id, "cognito_client_id": client_id}))
        mail = Path(self._stack.enter_context(tempfile.TemporaryDirectory())) / "mail.jsonl"
        self.mailbox = Mailbox(mail, echo=lambda line: None)
        self._stack.enter_context(delivering_to(self.mailbox))
        self._stack.enter_context(confirming_as_cognito())
        clock.set_now(self.now)
        self._stack.callback(clock.set_now, None)
        self.app = app
        self.api = Api(self._stack.enter_context(Client(app, stage_name="dev")))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def at(self, when: datetime) -> None:
        from chalicelib import clock

        self.now = when
        clock.set_now(when)

    def ok(self, method: str, path: str, body: Any = None, headers: dict | None = None) -> Reply:
        reply = self.api.call(method, path, body, headers)
        if not 200 <= reply.status < 300:
            raise AssertionError(f"{method} {path} answered {reply.status}: {reply.body}")
        return reply

    def sweep(self, name: str, at: datetime) -> dict:
        return self.api.client.lambda_.invoke(name, scheduled_event(at)).payload

    def new_tenant(
        self,
        name: str = "Acme",
        *,
        capacity: int = 1000,
        skus: tuple[str, ...] = ("VLM-MAX-SPLA",),
        type_capacity: int | None = None,
    ) -> Tenant:
        """A tenant on a contract of ``capacity`` instances with one license type per SKU."""
        created = self.ok(
            "POST", "/v1/tenants", {"name": name, "owner_email": "admin@acme.example"}, operator_headers()
        ).body
        tenant = Tenant(created["tenant_id"], created["api_key"], created["activation_key"])
        self.ok(
            "POST",
            f"/v1/tenants/{tenant.tenant_id}/contracts",
            {"contract_id": f"c-{name}", "capacity": capacity, "starts_at": "2026-01-01T00:00:00Z"},
            operator_headers(),
        )
        each = type_capacity if type_capacity is not None else capacity // len(skus)
        for sku in skus:
            created = self.ok(
                "POST", "/v1/license-types", {"name": sku, "sku": sku, "capacity": each}, tenant.admin
            ).body
            tenant.types[sku] = created["lic_type_id"]
        return tenant

    def next_loadmaster(self, sku: str = "VLM-MAX-SPLA", **overrides) -> dict:
        self._devices += 1
        return {**loadmaster(self._devices, sku), **overrides}

    def activate(
        self,
        tenant: Tenant,
        sku: str = "VLM-MAX-SPLA",
        *,
        confirm: bool = True,
        lm: dict | None = None,
        idempotency_key: str | None = None,
    ) -> Device:
        lm = lm or self.next_loadmaster(sku)
        headers = {**tenant.loadmaster, **({"Idempotency-Key": idempotency_key} if idempotency_key else {})}
        body = self.ok("POST", "/v1/activations", {**lm, "lic_type_id": tenant.types[lm["sku"]]}, headers).body
        device = Device(body["device_id"], body["device_token"], lm)
        if confirm:
            self.ok("POST", f"/v1/devices/{device.device_id}/confirm", headers=device.auth)
        return device

    def check_in(self, device: Device) -> Reply:
        reply = self.ok("POST", f"/v1/devices/{device.device_id}/check-ins", device.check_in_body, device.auth)
        device.token = reply.body["device_token"]
        return reply


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
