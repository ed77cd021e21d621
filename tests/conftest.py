"""Shared fixtures. The service is configured for in-process moto once, here; the app keeps
those settings whenever it is imported."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

# moto's hook joins botocore's handlers when moto is imported, and a boto3 session takes the
# handlers as they are when it is made; the default session is kept between tests (moto_state), so
# moto comes first: a test that makes a client before any test starts moto (test_outbound_deadlines)
# would otherwise leave every later client of that session talking to AWS itself.
import tests.moto_state  # noqa: F401  (before anything makes a boto3 session)
from chalicelib.startup import configure
from local.environment import TEST_OPERATOR_KEY, local_settings, use_fake_aws_credentials

# The front doors' events and answers are checked in that module, with pytest's messages.
pytest.register_assert_rewrite("tests.front_doors")

OPERATOR_KEY = TEST_OPERATOR_KEY
SETTINGS = local_settings(moto_endpoint=None, operator_key=OPERATOR_KEY)
use_fake_aws_credentials()
configure(SETTINGS)

T0 = datetime(2026, 11, 28, 20, 0, 0, tzinfo=UTC)

LM = {
    "mac": "00:50:56:aa:bb:01",
    "ip": "10.0.0.5",
    "port": 443,
    "sku": "VLM-MAX-SPLA",
    "image": "LoadMaster-VLM-7.2.47-SPLA.ova",
    "version": "7.2.47",
}


@pytest.fixture
def clock():
    from chalicelib import clock as clock_module

    clock_module.set_now(T0)
    yield clock_module
    clock_module.set_now(None)


@pytest.fixture
def aws(clock):
    """In-process moto, as new in every test, with every table created. The tables are made once
    and emptied for each test after (``tests/moto_state.py``)."""
    from chalicelib.store import create_tables, table_names
    from tests.moto_state import mocked, start_afresh

    with mocked():
        configure(SETTINGS)  # nothing cached from the previous test's moto
        if not start_afresh(SETTINGS.region, table_names()):
            create_tables()
        yield
        configure(SETTINGS)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None


class Api:
    """Chalice's test client, speaking JSON."""

    def __init__(self, client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> Reply:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(response.status_code, parsed, dict(response.headers))

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def operator_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_KEY}"}


@dataclass
class TenantKeys:
    tenant_id: str
    api_key: str
    activation_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def loadmaster(self) -> dict[str, str]:
        return {"X-Activation-Key": self.activation_key}


@pytest.fixture
def api(aws):
    from app import app
    from local.schedules import Client

    with Client(app, stage_name="dev") as client:
        yield Api(client)


@pytest.fixture
def sweep(api):
    """Run a scheduled function as EventBridge would, at a chosen time; returns its report."""

    def run(name: str, at: datetime | str) -> dict:
        response = api.client.lambda_.invoke(name, scheduled_event(at))
        return response.payload

    return run


@pytest.fixture
def new_tenant(api):
    def make(name: str = "Acme", trial: dict | None = None, contract: dict | None = None) -> TenantKeys:
        created = api.post(
            "/v1/tenants", {"name": name, "owner_email": "admin@acme.example"}, headers=operator_headers()
        )
        assert created.status == 201, created.body
        keys = TenantKeys(created.body["tenant_id"], created.body["api_key"], created.body["activation_key"])
        if trial is not None:
            r = api.post(f"/v1/tenants/{keys.tenant_id}/trial", trial, headers=operator_headers())
            assert r.status == 201, r.body
        if contract is not None:
            r = api.post(f"/v1/tenants/{keys.tenant_id}/contracts", contract, headers=operator_headers())
            assert r.status == 201, r.body
        return keys

    return make


@pytest.fixture
def trial_tenant(new_tenant) -> TenantKeys:
    return new_tenant(trial={})


@pytest.fixture
def licensed_tenant(api, new_tenant):
    """A tenant under a 20-instance contract with one license type (``keys.lic_type_id``) of
    ``capacity`` instances for VLM-MAX-SPLA."""

    def make(capacity: int) -> TenantKeys:
        keys = new_tenant(
            "Licensed", contract={"contract_id": "C-1", "capacity": 20, "starts_at": "2026-11-01T00:00:00Z"}
        )
        created = api.post(
            "/v1/license-types", {"name": "Max", "sku": "VLM-MAX-SPLA", "capacity": capacity}, headers=keys.admin
        )
        keys.lic_type_id = created.body["lic_type_id"]
        return keys

    return make


def scheduled_event(at: datetime | str) -> dict:
    """An EventBridge scheduled event carrying ``at`` as its time (Chalice's generator fixes it
    to 2015)."""
    time = at if isinstance(at, str) else at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"],
        "detail": {},
    }


def lm(**overrides) -> dict:
    return {**LM, **overrides}


def first_type_id(api, keys: TenantKeys) -> str:
    return api.get("/v1/license-types", headers=keys.admin).body["license_types"][0]["lic_type_id"]


def activate(api, keys: TenantKeys, lic_type_id: str, headers: dict | None = None, **overrides) -> Reply:
    return api.post(
        "/v1/activations",
        {**lm(**overrides), "lic_type_id": lic_type_id},
        headers={**keys.loadmaster, **(headers or {})},
    )


@pytest.fixture
def atomic_moto(monkeypatch):
    """Make each moto request atomic, as each DynamoDB request is. moto has no per-item lock, so
    without this a concurrency test would test moto's races instead of our conditions. A tiny
    thread switch interval makes our own read-then-write gaps interleave as much as possible."""
    import sys
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def atomic(self, request):
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", atomic)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.fixture
def threaded_app(monkeypatch):
    """The app with a per-thread ``current_request``, as ``chalice local`` makes it, so several
    threads can drive it through one test client."""
    from chalice.local import LocalChalice

    from app import app
    from chalicelib.store import connect

    class ThreadLocalChalice(LocalChalice, app.__class__):
        pass

    monkeypatch.setattr(app, "__class__", ThreadLocalChalice)
    # A Lambda container serves one request at a time; these threads share one process, so the
    # lazily made DynamoDB clients are made here first, not by racing threads.
    connect()
    return app


@pytest.fixture
def log_lines():
    """Everything the service logs during the test, as parsed JSON lines (and the raw text)."""
    import io
    import logging

    from chalicelib.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)

    class Lines:
        @property
        def text(self) -> str:
            return stream.getvalue()

        def __iter__(self):
            for line in self.text.splitlines():
                try:
                    yield json.loads(line)
                except ValueError:
                    continue

    yield Lines()
    logger._logger.removeHandler(handler)


@pytest.fixture
def stack(tmp_path):
    """The local stack as ``make run`` starts it, in a subprocess (tests/e2e/conftest.py)."""
    from tests.e2e.conftest import kill_everything, start_stack

    running = start_stack(tmp_path)
    try:
        yield running
    finally:
        kill_everything(running.process, running.api_pgid)


@pytest.fixture
def user_pool(aws):
    """Accounts on: the user pool and app client made on this test's moto (``create_user_pool``),
    handed to the service as the stack hands them (COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID).
    Answers (pool id, client id). moto confirms a registration as AWS does (the email verified)."""
    from chalicelib.store import create_user_pool
    from local.accounts import confirming_as_cognito

    pool_id, client_id = create_user_pool()
    configure(SETTINGS.model_copy(update={"cognito_user_pool_id": pool_id, "cognito_client_id": client_id}))
    with confirming_as_cognito():
        yield pool_id, client_id


# The pool's policy (chalicelib.domain.passwords): 12 characters or more, lower and upper case, a number.
PASSWORD = "Correct-horse-42"


@pytest.fixture
def accounts(user_pool, api):
    """Accounts through the API: ``accounts.signed_up(email)`` registers, confirms and signs in,
    answering the tokens and the account id. moto's ConfirmSignUp takes any code (AWS checks
    the one it mailed), so these fixtures prove our side only: what we do once Cognito says yes."""

    class Accounts:
        def register(self, email: str, password: str = PASSWORD, name: str = "Pat") -> Reply:
            return api.post("/v1/accounts", {"email": email, "password": password, "name": name})

        def confirm(self, email: str) -> Reply:
            return api.post("/v1/accounts/confirm", {"email": email, "code": "123456"})

        def sign_in(self, email: str, password: str = PASSWORD) -> Reply:
            return api.post("/v1/sessions", {"email": email, "password": password})

        def signed_up(self, email: str, name: str = "Pat") -> SignedIn:
            assert self.register(email, name=name).status == 202
            assert self.confirm(email).status == 200
            reply = self.sign_in(email)
            assert reply.status == 200, reply.body
            me = api.get("/v1/account", headers={"Authorization": f"Bearer {reply.body['access_token']}"})
            return SignedIn(email, me.body["account_id"], reply.body["access_token"], reply.body["refresh_token"])

        def owning(self, email: str, tenant: str = "Acme") -> tuple[SignedIn, TenantKeys]:
            """A signed-up account and the tenant it created (and owns)."""
            person = self.signed_up(email)
            created = api.post("/v1/account/tenant", {"name": tenant}, headers=person.headers)
            assert created.status == 201, created.body
            return person, TenantKeys(
                created.body["tenant_id"], created.body["api_key"], created.body["activation_key"]
            )

    return Accounts()


@dataclass
class SignedIn:
    email: str
    account_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def in_tenant(self, tenant_id: str) -> dict[str, str]:
        return {**self.headers, "X-Tenant-Id": tenant_id}


@pytest.fixture
def verify_user_attribute(monkeypatch):
    """moto 5.2.5 has no VerifyUserAttribute. AWS's checks the code it mailed to the new email
    and marks it verified; this one marks it verified, so the test proves what we do after."""
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import EmptyResult

    def verify(self):
        token, name = self._get_param("AccessToken"), self._get_param("AttributeName")
        for pool in self.backend.user_pools.values():
            if token in pool.access_tokens:
                pool._get_user(pool.access_tokens[token][1]).update_attributes(
                    [{"Name": f"{name}_verified", "Value": "true"}]
                )
                return EmptyResult()
        raise AssertionError("no such token")

    monkeypatch.setattr(CognitoIdpResponse, "verify_user_attribute", verify, raising=False)


def pool_signed_token(user_pool, kid: str = "dummy", **claims: Any) -> str:
    """An access token signed with moto's user-pool key (the one its JWKS publishes, as
    ``dummy``), under ``kid``, with ``claims`` over a valid set: what only a holder of the pool's
    key could make."""
    import time

    from joserfc import jwk, jwt
    from moto.utilities.utils import load_resource

    key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    now = int(time.time())
    valid = {
        "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{user_pool[0]}",
        "sub": "someone",
        "client_id": user_pool[1],
        "token_use": "access",
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode({"kid": kid, "alg": "RS256"}, {**valid, **claims}, key)
