"""What every benchmark shares: the app's environment, an in-process moto with the tables, the app
behind Chalice's test client, a log of every AWS call, and DynamoDB's size and index-write rules.

The environment is set when this module is imported, before anything imports ``chalicelib``
(PynamoDB reads table names when the model classes are created). Its values are those of
``tests/conftest.py``, so the benchmarks and the test suite can share one process.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from local.environment import TEST_OPERATOR_KEY, use_local_environment

OPERATOR_KEY = TEST_OPERATOR_KEY


def configure_environment() -> None:
    """The app's settings for an in-process moto; never a real AWS endpoint or credential."""
    use_local_environment(moto_endpoint=None, operator_key=OPERATOR_KEY)


configure_environment()

import botocore.client  # noqa: E402  (after the environment)
from moto import mock_aws  # noqa: E402
from moto.dynamodb.models import DynamoDBBackend  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402

TABLE_PREFIX = os.environ["TABLE_PREFIX"]
T0 = datetime(2026, 11, 28, 20, 0, 0, tzinfo=UTC)
READ_OPS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITE_OPS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


# --- the call log ------------------------------------------------------------------------------


@dataclass
class Call:
    """One AWS API call as botocore made it (retries inside botocore are not separate calls)."""

    service: str
    operation: str
    params: dict[str, Any]
    table: str | None = None
    index: str | None = None
    scanned: int | None = None  # Query/Scan: items read (ScannedCount), what the request is billed on
    returned: int | None = None  # Query/Scan: items returned (Count)
    error: str | None = None

    @property
    def label(self) -> str:
        """``Operation(table[/index])``, table names without the stage prefix."""
        if self.operation in ("TransactWriteItems", "TransactGetItems"):
            tables = sorted({_short(next(iter(i.values()))["TableName"]) for i in self.params.get("TransactItems", [])})
            return f"{self.operation}({','.join(tables)}; {len(self.params.get('TransactItems', []))} items)"
        where = self.table or ""
        if self.index:
            where += f"/{self.index}"
        return f"{self.operation}({where})" if where else self.operation


def _short(table: str | None) -> str | None:
    return table[len(TABLE_PREFIX):] if table and table.startswith(TABLE_PREFIX) else table


class CallLog:
    """Every AWS call made while it is active, by patching ``BaseClient._make_api_call`` (as
    ``tests/service/test_check_in.py`` does). Logs nest: an inner log's calls are also the outer's."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._original: Any = None

    def __enter__(self) -> CallLog:
        self._original = original = botocore.client.BaseClient._make_api_call
        log = self

        def recording(client, operation, params):
            call = Call(client.meta.service_model.service_name, operation, copy.deepcopy(params),
                        _short(params.get("TableName")), params.get("IndexName"))
            log.calls.append(call)
            try:
                response = original(client, operation, params)
            except Exception as e:
                call.error = type(e).__name__
                if hasattr(e, "response"):
                    call.error = e.response.get("Error", {}).get("Code", call.error)
                raise
            if operation in ("Query", "Scan"):
                call.scanned, call.returned = response.get("ScannedCount"), response.get("Count")
            return response

        botocore.client.BaseClient._make_api_call = recording
        return self

    def __exit__(self, *exc) -> None:
        botocore.client.BaseClient._make_api_call = self._original

    def clear(self) -> None:
        self.calls.clear()

    def dynamodb(self) -> list[Call]:
        return [c for c in self.calls if c.service == "dynamodb"]

    def ops(self) -> list[str]:
        """The DynamoDB operations, in order."""
        return [c.operation for c in self.dynamodb()]

    def labels(self) -> list[str]:
        return [c.label for c in self.dynamodb()]

    def reads(self) -> list[Call]:
        return [c for c in self.dynamodb() if c.operation in READ_OPS]

    def writes(self) -> list[Call]:
        return [c for c in self.dynamodb() if c.operation in WRITE_OPS]

    def other_services(self) -> list[str]:
        return [f"{c.service}:{c.operation}" for c in self.calls if c.service != "dynamodb"]

    def items_read(self, operation: str | None = None) -> int:
        """Items read by Query and Scan calls (their ScannedCount)."""
        return sum(c.scanned or 0 for c in self.dynamodb()
                   if c.operation in ("Query", "Scan") and (operation is None or c.operation == operation))

    def count(self) -> Counter[str]:
        return Counter(self.ops())


def compact(labels: list[str]) -> str:
    """Consecutive repeats folded: ``8 x Query(devices/silent-due), TransactWriteItems(...)``."""
    runs: list[list] = []
    for label in labels:
        if runs and runs[-1][0] == label:
            runs[-1][1] += 1
        else:
            runs.append([label, 1])
    return ", ".join(label if n == 1 else f"{n} x {label}" for label, n in runs) or "no call"


# --- moto at fleet scale -----------------------------------------------------------------------


@contextlib.contextmanager
def fast_transactions() -> Iterator[None]:
    """moto's TransactWriteItems deep-copies every table it touches, to roll back on a refusal: at
    100 000 devices that is seconds per transaction. This keeps moto's semantics by snapshotting
    only the items the transaction names, and restoring them if it is refused. DynamoDB requests
    and their counts are unchanged; only moto's bookkeeping is cheaper."""
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        snapshots = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            raw = op["Item"] if op_type == "Put" else op.get("Key", {})
            if table.hash_key_attr not in raw:
                continue
            hash_key = DynamoType(raw[table.hash_key_attr])
            range_key = DynamoType(raw[table.range_key_attr]) if table.range_key_attr else None
            if table.range_key_attr and table.range_key_attr not in raw:
                continue
            snapshots.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        Table.__deepcopy__ = lambda table, memo: table  # the original's whole-table backup: skipped
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(snapshots):
                if range_key is None:
                    table.items.pop(hash_key, None) if item is None else table.items.__setitem__(hash_key, item)
                elif item is None:
                    table.items.get(hash_key, {}).pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = item
            raise
        finally:
            del Table.__deepcopy__

    DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original


# --- stdout (the app logs and publishes EMF metrics on it) ------------------------------------


@dataclass
class Captured:
    bytes: int = 0
    text: str = ""


@contextlib.contextmanager
def stdout_captured(keep: bool = False) -> Iterator[Captured]:
    """Send file descriptor 1 to a temporary file for the block and count its bytes: the
    service's log lines and EMF metrics, as Lambda would ship them to CloudWatch Logs. Powertools
    holds ``sys.stdout`` itself, so redirecting the descriptor is the only way to catch it."""
    captured = Captured()
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            captured.bytes = os.fstat(sink.fileno()).st_size
            if keep:
                sink.seek(0)
                captured.text = sink.read().decode(errors="replace")


# --- DynamoDB's accounting ---------------------------------------------------------------------


def attribute_value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB bills for one attribute value (Item sizes, in the Developer Guide)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = Decimal(v).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(v.encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(attribute_value_size({"N": n}) for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(attribute_value_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_value_size(e) + 1 for k, e in v.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item in DynamoDB's wire format: names plus values."""
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


def write_units(size: int, transactional: bool = False) -> int:
    return math.ceil(max(size, 1) / 1024) * (2 if transactional else 1)


@dataclass(frozen=True)
class IndexShape:
    """A global secondary index as deployed: its keys and what it projects."""

    name: str
    hash_key: str
    range_key: str | None
    projection: frozenset[str] | None  # None: ALL

    def holds(self, item: dict | None) -> bool:
        return item is not None and self.hash_key in item and (self.range_key is None or self.range_key in item)

    def key(self, item: dict) -> tuple:
        return item[self.hash_key], item.get(self.range_key) if self.range_key else None

    def projected(self, item: dict, table_keys: tuple[str, ...]) -> dict:
        if self.projection is None:
            return item
        names = {self.hash_key, *table_keys, *self.projection} | ({self.range_key} if self.range_key else set())
        return {k: v for k, v in item.items() if k in names}

    def writes(self, old: dict | None, new: dict | None, table_keys: tuple[str, ...]) -> int:
        """Index writes caused by a table write from ``old`` to ``new`` (Developer Guide, "Provisioned
        throughput considerations for global secondary indexes"): 1 to put or delete an entry, 2 when
        an index key changes (delete and put), 1 when only projected attributes change, else 0."""
        before, after = self.holds(old), self.holds(new)
        if not before and not after:
            return 0
        if before != after:
            return 1
        if self.key(old) != self.key(new):
            return 2
        return int(self.projected(old, table_keys) != self.projected(new, table_keys))


def index_shapes(model) -> list[IndexShape]:
    """The model's global secondary indexes, from the same schema ``create_tables`` deploys."""
    shapes = []
    for index in model._get_schema().get("global_secondary_indexes", []):
        keys = {k["KeyType"]: k["AttributeName"] for k in index["key_schema"]}
        projection = index["projection"]
        included = (None if projection["ProjectionType"] == "ALL"
                    else frozenset(projection.get("NonKeyAttributes", [])))
        shapes.append(IndexShape(index["index_name"], keys["HASH"], keys.get("RANGE"), included))
    return shapes


def table_keys(model) -> tuple[str, ...]:
    return tuple(k["AttributeName"] for k in model._get_schema()["key_schema"])


def raw_item(model, *key) -> dict | None:
    """An item as stored, in DynamoDB's wire format. A GetItem like any other: call it outside
    the call log being measured."""
    return model._get_connection().get_item(*key).get("Item")


# --- the app -----------------------------------------------------------------------------------


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
    return {"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"], "detail": {}}


def loadmaster(n: int, sku: str = "VLM-MAX-SPLA") -> dict:
    """The n-th LoadMaster: its own MAC and address."""
    return {"mac": f"00:50:56:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}",
            "ip": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", "port": 443, "sku": sku,
            "image": "LoadMaster-VLM-7.2.47-SPLA.ova", "version": "7.2.47"}


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
    """A fresh in-process moto with every table, the clock pinned, and the app behind Chalice's
    test client. Use as a context manager; one at a time per process."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self._stack = contextlib.ExitStack()
        self._devices = 0
        self.api: Api

    def __enter__(self) -> World:
        from chalice.test import Client

        from app import app
        from chalicelib import clock
        from chalicelib.security.signing import reset_key_ring
        from chalicelib.store import create_tables

        self._stack.enter_context(mock_aws())
        self._stack.enter_context(fast_transactions())
        reset_key_ring()
        self._stack.callback(reset_key_ring)
        create_tables()
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

    def new_tenant(self, name: str = "Acme", *, capacity: int = 1000, skus: tuple[str, ...] = ("VLM-MAX-SPLA",),
                   type_capacity: int | None = None) -> Tenant:
        """A tenant on a contract of ``capacity`` instances with one license type per SKU."""
        created = self.ok("POST", "/v1/tenants", {"name": name, "owner_email": "admin@acme.example"},
                          operator_headers()).body
        tenant = Tenant(created["tenant_id"], created["api_key"], created["activation_key"])
        self.ok("POST", f"/v1/tenants/{tenant.tenant_id}/contracts",
                {"contract_id": f"c-{name}", "capacity": capacity, "starts_at": "2026-01-01T00:00:00Z"},
                operator_headers())
        each = type_capacity if type_capacity is not None else capacity // len(skus)
        for sku in skus:
            created = self.ok("POST", "/v1/license-types", {"name": sku, "sku": sku, "capacity": each},
                              tenant.admin).body
            tenant.types[sku] = created["lic_type_id"]
        return tenant

    def next_loadmaster(self, sku: str = "VLM-MAX-SPLA", **overrides) -> dict:
        self._devices += 1
        return {**loadmaster(self._devices, sku), **overrides}

    def activate(self, tenant: Tenant, sku: str = "VLM-MAX-SPLA", *, confirm: bool = True,
                 lm: dict | None = None, idempotency_key: str | None = None) -> Device:
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
