"""Devices, their uniqueness claims, and the transactions that take and release instances.

Invariant 1 lives here: an instance is taken or released only in the same transaction as the
device's change of status, and every item in it is guarded by a condition on the state that was
read, so retries, concurrent activations and sweeps can neither oversubscribe a pool nor release
an instance twice.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.domain.model import HOLDING, Device, DeviceStatus, LicensingPolicy, TenantState
from chalicelib.domain.windows import RateLimit
from chalicelib.settings import get_settings
from chalicelib.store.counters import take_in
from chalicelib.store.events import event_item
from chalicelib.store.failures import dynamodb, is_transient
from chalicelib.store.models import DUE_SHARDS, ClaimItem, DeviceItem, LicenseTypeItem, TenantItem
from chalicelib.store.transaction import Transaction, TransactionCancelled, update_if

IDEMPOTENCY_TTL = timedelta(hours=24)


def mac_claim(tenant_id: str, mac: str) -> str:
    return f"mac#{tenant_id}#{mac}"


def address_claim(tenant_id: str, address: str) -> str:
    return f"addr#{tenant_id}#{address}"


def idempotency_claim(tenant_id: str, key: str) -> str:
    return f"idem#{tenant_id}#{key}"


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _shard(device_id: str) -> int:
    return zlib.crc32(device_id.encode()) % DUE_SHARDS


def silent_bucket_base(now: datetime) -> int:
    """``now`` rounded *down* to the silent bucket (SILENT_BUCKET_S). A device's ``silent_due``
    (the due index's key) is this plus its ``silent_after_s``: never later than the exact moment
    it falls silent (``silent_at``, outside the index), so the sweep finds it in time; and it
    moves (rewriting the index entry) only once per bucket, not on every check-in. The sweep's
    write is conditioned on ``silent_at``, so a device found early is never released early."""
    width = get_settings().silent_bucket_s
    return math.floor(now.timestamp() / width) * width


def _silent_deadline(now: datetime) -> list:
    """The check-in's update of both silent deadlines, from the item's own ``silent_after_s``."""
    return [
        DeviceItem.silent_due.set(DeviceItem.silent_after_s + silent_bucket_base(now)),
        DeviceItem.silent_at.set(DeviceItem.silent_after_s + int(now.timestamp())),
    ]


@dataclass(frozen=True)
class Holder:
    """What releasing a device's instance needs: the sweeps get it from the due indexes'
    projection without reading the device."""

    device_id: str
    tenant_id: str
    lic_type_id: str
    mac: str
    ip: str
    port: int
    status: DeviceStatus
    credential_version: int

    @classmethod
    def of(cls, d: Device) -> Holder:
        return cls(d.device_id, d.tenant_id, d.lic_type_id, d.mac, d.ip, d.port, d.status, d.credential_version)


@dataclass(frozen=True)
class Claim:
    device_id: str
    lic_type_id: str | None
    blocked: bool
    request_hash: str | None


def device_from_item(item: DeviceItem) -> Device:
    return Device(
        device_id=item.device_id,
        tenant_id=item.tenant_id,
        mac=item.mac,
        ip=item.ip,
        port=int(item.port),
        sku=item.sku,
        image=item.image,
        version=item.version,
        lic_type_id=item.lic_type_id,
        status=DeviceStatus(item.status),
        activated_at=item.activated_at,
        confirm_by=item.confirm_by,
        credential_version=int(item.credential_version),
        lease_s=int(item.lease_s),
        silent_after_s=int(item.silent_after_s),
        check_in_interval_s=int(item.check_in_interval_s),
        confirmed_at=item.confirmed_at,
        last_check_in_at=item.last_check_in_at,
        deactivated_at=item.deactivated_at,
        reason=item.reason,
    )


@dynamodb
def get_device(device_id: str) -> Device | None:
    try:
        return device_from_item(DeviceItem.get(device_id))
    except DoesNotExist:
        return None


@dynamodb
def get_claim(key: str, now: datetime) -> Claim | None:
    try:
        item = ClaimItem.get(key)
    except DoesNotExist:
        return None
    # TTL deletes lazily (and moto never does): an expired claim is no claim.
    if item.expires_at is not None and item.expires_at <= now:
        return None
    return Claim(item.device_id, item.lic_type_id, bool(item.blocked), item.request_hash)


@dynamodb
def insert_activation(
    device: Device,
    *,
    tenant_state: TenantState,
    now: datetime,
    idempotency_key: str | None,
    request_hash: str | None,
    rate: RateLimit | None = None,
    overage: bool = False,
    stale_idempotency_device: str | None = None,
) -> None:
    """Take one instance of the device's license type, write the device PENDING and claim its
    MAC, its address and the idempotency key, with the event that says so: all or nothing.

    Raises ``TransactionCancelled`` naming the conditions that failed: ``device`` (the UUID
    exists), ``mac``, ``address``, ``idempotency``, ``type`` (gone, other SKU, or at the most
    its overage policy allows), ``tenant`` (state changed, or a trial's shared capacity full),
    ``rate`` (the MAC's activations in ``rate``'s window have reached its limit).
    """
    t, shard = device.tenant_id, _shard(device.device_id)
    tx = Transaction()
    tx.put(
        "device",
        DeviceItem(
            device.device_id,
            tenant_id=t,
            mac=device.mac,
            ip=device.ip,
            port=device.port,
            sku=device.sku,
            image=device.image,
            version=device.version,
            lic_type_id=device.lic_type_id,
            status=str(DeviceStatus.PENDING),
            credential_version=device.credential_version,
            activated_at=device.activated_at,
            confirm_by=device.confirm_by,
            lease_s=device.lease_s,
            silent_after_s=device.silent_after_s,
            check_in_interval_s=device.check_in_interval_s,
            pending_shard=f"P{shard}",
            silent_shard=f"S{shard}",
            silent_due=silent_bucket_base(now) + device.silent_after_s,
            silent_at=int(now.timestamp()) + device.silent_after_s,
        ),
        condition=DeviceItem.device_id.does_not_exist(),
    )
    claim: dict[str, Any] = {
        "tenant_id": t,
        "device_id": device.device_id,
        "lic_type_id": device.lic_type_id,
        "created_at": now,
    }
    tx.put("mac", ClaimItem(mac_claim(t, device.mac), **claim), condition=ClaimItem.claim.does_not_exist())
    tx.put(
        "address",
        ClaimItem(address_claim(t, _address(device.ip, device.port)), **claim),
        condition=ClaimItem.claim.does_not_exist(),
    )
    if idempotency_key:
        # An expired key is free (TTL deletes it lazily, moto never), and so is one whose device
        # was deleted since: the caller names it after reading the claim.
        free = ClaimItem.claim.does_not_exist() | (ClaimItem.expires_at <= now)
        if stale_idempotency_device is not None:
            free |= ClaimItem.device_id == stale_idempotency_device
        tx.put(
            "idempotency",
            ClaimItem(
                idempotency_claim(t, idempotency_key),
                request_hash=request_hash,
                expires_at=now + IDEMPOTENCY_TTL,
                **claim,
            ),
            condition=free,
        )
    tx.put(
        "event",
        event_item(
            t,
            "activation.granted",
            now,
            device_id=device.device_id,
            mac=device.mac,
            ip=device.ip,
            port=device.port,
            lic_type_id=device.lic_type_id,
            overage=overage or None,
        ),
    )
    tx.update(
        "type",
        LicenseTypeItem(t, device.lic_type_id),
        [LicenseTypeItem.in_use.add(1)],
        condition=LicenseTypeItem.lic_type_id.exists()
        & (LicenseTypeItem.sku == device.sku)
        & (LicenseTypeItem.max_in_use.does_not_exist() | (LicenseTypeItem.in_use < LicenseTypeItem.max_in_use)),
    )
    tenant_condition = TenantItem.state == str(tenant_state)
    if tenant_state == TenantState.TRIAL:
        # A trial's instances are shared by its license types (one per SKU): the tenant counts.
        tenant_condition &= (TenantItem.trial_expires_at > now) & (TenantItem.in_use < TenantItem.capacity)
    else:
        # The contract licenses only while it runs, and never past what its pools together may
        # hold (their capacities, within their overage policies: ``ceiling``, absent for none).
        tenant_condition &= (
            (TenantItem.contract_starts_at <= now)
            & (TenantItem.contract_ends_at.does_not_exist() | (TenantItem.contract_ends_at > now))
            & (TenantItem.ceiling.does_not_exist() | (TenantItem.in_use < TenantItem.ceiling))
        )
    tx.update("tenant", TenantItem(t), [TenantItem.in_use.add(1)], condition=tenant_condition)
    if rate is not None:
        take_in(tx, "rate", rate)
    tx.commit()


@dynamodb
def confirm(device_id: str, tenant_id: str, credential_version: int, now: datetime) -> Device | None:
    """PENDING becomes ACTIVE before the confirm deadline; None when the device is not in that
    state (the caller reads it to say why)."""
    item = DeviceItem(device_id)
    confirmed = update_if(
        item,
        [
            DeviceItem.status.set(str(DeviceStatus.ACTIVE)),
            DeviceItem.confirmed_at.set(now),
            DeviceItem.pending_shard.remove(),
        ],
        (DeviceItem.tenant_id == tenant_id)
        & (DeviceItem.credential_version == credential_version)
        & (DeviceItem.status == str(DeviceStatus.PENDING))
        & (DeviceItem.confirm_by > now),
    )
    return device_from_item(item) if confirmed else None


class Released(Enum):
    RELEASED = "released"
    MOVED = "moved"  # the device changed status or credential since it was read: left alone
    STOPPED = "stopped"  # the tenant left the state that justified the release


@dynamodb
def release(
    holder: Holder, to: DeviceStatus, reason: str, now: datetime, *, while_tenant: TenantState | None = None
) -> Released:
    """Move a device that holds an instance (as read: ``holder.status``) to BLOCKED or
    DEACTIVATED and give its instance back, exactly once. If the device has changed status or
    credential since it was read (a confirm, another sweep, a replace), nothing is written:
    MOVED. A harmless change, its address moved by a check-in, is read again and retried.
    ``while_tenant`` makes the release conditional on the tenant still being in that state (a
    wind-down: a renewal landing meanwhile stops it, STOPPED).

    A BLOCKED device keeps its MAC claim, marked blocked, so the MAC is refused until unblocked.
    """
    return _release_retrying(holder, to, reason, now, None, while_tenant)


@dynamodb
def release_if_due(holder: Holder, to: DeviceStatus, reason: str, now: datetime) -> Released:
    """``release``, only if the device's own deadline has passed as of ``now``, checked in the
    write: BLOCKED once its confirm deadline passed (the block sweep, a late confirm),
    DEACTIVATED once it is silent (its last check-in plus its ``silent_after_s``; a check-in
    landing after the read moves it). Otherwise MOVED, and nothing is written."""
    return _release_retrying(holder, to, reason, now, _due(to, now), None)


def _due(to: DeviceStatus, now: datetime):
    if to == DeviceStatus.BLOCKED:
        return DeviceItem.confirm_by <= now
    # Items written before ``silent_at`` existed have a ``silent_due`` that was never early.
    return DeviceItem.silent_at.does_not_exist() | (DeviceItem.silent_at <= int(now.timestamp()))


def _release_retrying(
    holder: Holder, to: DeviceStatus, reason: str, now: datetime, only_if, while_tenant: TenantState | None
) -> Released:
    for _ in range(3):
        try:
            return _release(holder, to, reason, now, only_if, while_tenant)
        except _ClaimMoved:
            current = get_device(holder.device_id)
            if (
                current is None
                or current.status != holder.status
                or current.credential_version != holder.credential_version
            ):
                return Released.MOVED
            holder = Holder.of(current)
    return Released.MOVED


class _ClaimMoved(Exception):
    pass


def _release(
    holder: Holder, to: DeviceStatus, reason: str, now: datetime, only_if, while_tenant: TenantState | None
) -> Released:
    tx = Transaction()
    _give_back(tx, holder, to, reason, now, only_if)
    _count_back(tx, Counter({(holder.tenant_id, holder.lic_type_id): 1}), while_tenant)
    try:
        tx.commit()
    except TransactionCancelled as e:
        if "device" in e.failed:
            return Released.MOVED
        if while_tenant is not None and "tenant" in e.failed:
            return Released.STOPPED
        if "address" in e.failed:
            raise _ClaimMoved from e  # the address moved after the read
        raise
    return Released.RELEASED


def _give_back(
    tx: Transaction, holder: Holder, to: DeviceStatus, reason: str, now: datetime, only_if, label: str = ""
) -> None:
    """The device's own items of its release (four: itself, its event, its address and MAC
    claims), labelled ``device<label>`` and so on."""
    t = holder.tenant_id
    actions = [
        DeviceItem.status.set(str(to)),
        DeviceItem.reason.set(reason),
        DeviceItem.pending_shard.remove(),
        DeviceItem.silent_shard.remove(),
        DeviceItem.silent_due.remove(),
        DeviceItem.silent_at.remove(),
    ]
    if to == DeviceStatus.DEACTIVATED:
        actions.append(DeviceItem.deactivated_at.set(now))
    # What makes the release right: the status and credential it was decided on. Not the
    # address, which a check-in may move: the claims below say who holds what.
    condition = (DeviceItem.status == str(holder.status)) & (DeviceItem.credential_version == holder.credential_version)
    if only_if is not None:
        condition &= only_if
    tx.update(f"device{label}", DeviceItem(holder.device_id), actions, condition=condition)
    held_by_device = ClaimItem.device_id == holder.device_id
    tx.delete(
        f"address{label}", ClaimItem(address_claim(t, _address(holder.ip, holder.port))), condition=held_by_device
    )
    tx.put(
        f"event{label}",
        event_item(
            t,
            f"device.{to.lower()}",
            now,
            device_id=holder.device_id,
            reason=reason,
            mac=holder.mac,
            ip=holder.ip,
            port=holder.port,
            lic_type_id=holder.lic_type_id,
        ),
    )
    if to == DeviceStatus.BLOCKED:
        tx.update(
            f"mac{label}", ClaimItem(mac_claim(t, holder.mac)), [ClaimItem.blocked.set(True)], condition=held_by_device
        )
    else:
        tx.delete(f"mac{label}", ClaimItem(mac_claim(t, holder.mac)), condition=held_by_device)


def _count_back(tx: Transaction, released: Counter, while_tenant: TenantState | None = None) -> None:
    """Give the instances ``released`` (per tenant and license type) back to their pools and
    tenants: one update of each, by the number released, never below zero."""
    tenants: Counter = Counter()
    for (t, lic_type_id), n in released.items():
        tx.update(
            "type",
            LicenseTypeItem(t, lic_type_id),
            [LicenseTypeItem.in_use.add(-n)],
            condition=LicenseTypeItem.in_use >= n,
        )
        tenants[t] += n
    for t, n in tenants.items():
        condition = TenantItem.in_use >= n
        if while_tenant is not None:
            condition &= TenantItem.state == str(while_tenant)
        tx.update("tenant", TenantItem(t), [TenantItem.in_use.add(-n)], condition=condition)


# DynamoDB's most items in one transaction (no item twice).
TRANSACTION_ITEMS = 100
# The most devices one transaction releases: four items each, and one update of their pool and
# one of their tenant (devices of several pools or tenants make smaller transactions).
RELEASE_BATCH = (TRANSACTION_ITEMS - 2) // 4
# Rounds of a batch refused because some of its devices moved, before the rest go one by one.
BATCH_ROUNDS = 3


@dynamodb
def release_all_if_due(holders: list[Holder], to: DeviceStatus, reason: str, now: datetime) -> dict[str, Released]:
    """``release_if_due`` for many devices in as few transactions as DynamoDB allows: each
    device's own items keep their conditions, and its pool and tenant are counted down once per
    transaction by the number it releases. All or nothing per transaction: devices whose own
    condition refused it (they moved, or are not yet due) are MOVED and the rest are tried again
    together; any other refusal (an address moved, a conflicting write) sends the rest one by
    one through ``release_if_due``. The outcome of each, by device id."""
    outcome: dict[str, Released] = {}
    for group in _transactions(holders):
        outcome.update(_release_together(group, to, reason, now))
    return outcome


def _transactions(holders: list[Holder]) -> Iterator[list[Holder]]:
    """``holders`` in groups that fit one transaction, no item twice (two stale index entries
    naming one claim go to different transactions)."""
    group: list[Holder] = []
    keys: set[tuple] = set()
    for h in holders:
        own = {
            ("device", h.device_id),
            ("claim", mac_claim(h.tenant_id, h.mac)),
            ("claim", address_claim(h.tenant_id, _address(h.ip, h.port))),
        }
        shared = {("type", h.tenant_id, h.lic_type_id), ("tenant", h.tenant_id)}
        # Each device also writes its event: one more item, never the same.
        if group and (own & keys or len(keys | own | shared) + len(group) + 1 > TRANSACTION_ITEMS):
            yield group
            group, keys = [], set()
        group.append(h)
        keys |= own | shared
    if group:
        yield group


def _release_together(group: list[Holder], to: DeviceStatus, reason: str, now: datetime) -> dict[str, Released]:
    outcome: dict[str, Released] = {}
    only_if = _due(to, now)
    for _ in range(BATCH_ROUNDS):
        tx = Transaction()
        for h in group:
            _give_back(tx, h, to, reason, now, only_if, label=f":{h.device_id}")
        _count_back(tx, Counter((h.tenant_id, h.lic_type_id) for h in group))
        try:
            tx.commit()
        except TransactionCancelled as e:
            moved = {h.device_id for h in group if f"device:{h.device_id}" in e.failed}
            if not moved:
                break
            outcome.update(dict.fromkeys(moved, Released.MOVED))
            group = [h for h in group if h.device_id not in moved]
            if not group:
                return outcome
            continue
        except TransactWriteError as e:
            if not is_transient(e):
                raise
            break  # a write racing one of them: one by one, the others need not wait
        outcome.update(dict.fromkeys((h.device_id for h in group), Released.RELEASED))
        return outcome
    for h in group:
        outcome[h.device_id] = _release_retrying(h, to, reason, now, only_if, None)
    return outcome


@dynamodb
def unblock(device: Device, now: datetime) -> bool:
    """BLOCKED becomes DEACTIVATED and the MAC may activate again."""
    tx = Transaction()
    tx.update(
        "device",
        DeviceItem(device.device_id),
        [
            DeviceItem.status.set(str(DeviceStatus.DEACTIVATED)),
            DeviceItem.deactivated_at.set(now),
            DeviceItem.reason.set("unblocked"),
        ],
        condition=DeviceItem.status == str(DeviceStatus.BLOCKED),
    )
    tx.delete(
        "mac", ClaimItem(mac_claim(device.tenant_id, device.mac)), condition=ClaimItem.device_id == device.device_id
    )
    tx.put("event", event_item(device.tenant_id, "device.unblocked", now, device_id=device.device_id, mac=device.mac))
    return tx.commit_if_current("device")


@dynamodb
def delete_released(device: Device, now: datetime) -> bool:
    """Remove a device that holds no instance (BLOCKED or DEACTIVATED) and its MAC claim if it
    still has one; a later check-in of it is then UNKNOWN_DEVICE. False if it moved meanwhile."""
    tx = Transaction()
    tx.delete("device", DeviceItem(device.device_id), condition=DeviceItem.status == str(device.status))
    if device.status == DeviceStatus.BLOCKED:
        tx.delete(
            "mac", ClaimItem(mac_claim(device.tenant_id, device.mac)), condition=ClaimItem.device_id == device.device_id
        )
    tx.put(
        "event",
        event_item(
            device.tenant_id,
            "device.deleted",
            now,
            device_id=device.device_id,
            mac=device.mac,
            ip=device.ip,
            port=device.port,
            lic_type_id=device.lic_type_id,
        ),
    )
    return tx.commit_if_current("device")


@dynamodb
def devices_of_tenant(
    tenant_id: str,
    *,
    limit: int | None = None,
    cursor: dict | None = None,
    holding_only: bool = False,
    status: str | None = None,
    lic_type_id: str | None = None,
    mac: str | None = None,
    ip: str | None = None,
) -> tuple[list[Device], dict | None]:
    """A page of the tenant's devices, newest activation first, filtered."""
    conditions: list[Condition] = []
    if holding_only:
        conditions.append(DeviceItem.status.is_in(*(str(s) for s in HOLDING)))
    for attribute, value in (
        (DeviceItem.status, status),
        (DeviceItem.lic_type_id, lic_type_id),
        (DeviceItem.mac, mac),
        (DeviceItem.ip, ip),
    ):
        if value is not None:
            conditions.append(attribute == value)
    condition = None
    for c in conditions:
        condition = c if condition is None else condition & c
    result = DeviceItem.by_tenant.query(
        tenant_id, filter_condition=condition, limit=limit, last_evaluated_key=cursor, scan_index_forward=False
    )
    ids = [i.device_id for i in result]
    # The page's items in one BatchGetItem (the index holds only what the filters need).
    found = {i.device_id: device_from_item(i) for i in DeviceItem.batch_get(ids)} if ids else {}
    return [found[i] for i in ids if i in found], result.last_evaluated_key


@dynamodb
def check_in(
    device_id: str,
    *,
    tenant_id: str,
    credential_version: int,
    mac: str,
    ip: str,
    port: int,
    version: str,
    now: datetime,
) -> tuple[bool, Device | None]:
    """The periodic activation check: one conditional UpdateItem, nothing read first.

    Written only while the device holds an instance under this credential, from its MAC, at the
    address it holds. Answers ``(True, device after)``, or ``(False, device as it was)`` from the failed
    condition's own return (``None`` when there is no such device).
    """
    item = DeviceItem(device_id)
    actions = [DeviceItem.last_check_in_at.set(now), DeviceItem.version.set(version), *_silent_deadline(now)]
    # Invariant 9: the MAC is the device's own; a clone presenting its token is refused.
    condition = (
        (DeviceItem.tenant_id == tenant_id)
        & (DeviceItem.credential_version == credential_version)
        & DeviceItem.status.is_in(*(str(s) for s in HOLDING))
        & (DeviceItem.mac == mac)
        & (DeviceItem.ip == ip)
        & (DeviceItem.port == port)
    )
    kwargs = item.get_update_kwargs_from_instance(
        actions=actions, condition=condition, return_values_on_condition_failure="ALL_OLD"
    )
    kwargs["ReturnValues"] = "ALL_NEW"
    try:
        # The botocore client itself: PynamoDB's error wrapper drops the item that
        # ReturnValuesOnConditionCheckFailure returns, which saves the read on a refusal.
        response = DeviceItem._get_connection().connection.client.update_item(**kwargs)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise UpdateError("check-in failed", e) from e
        old = e.response.get("Item")
        return False, device_from_item(DeviceItem.from_raw_data(old)) if old else None
    return True, device_from_item(DeviceItem.from_raw_data(response["Attributes"]))


@dynamodb
def move_address(device: Device, ip: str, port: int) -> bool:
    """A LoadMaster that holds a license reports a new IP address or port: move its address
    claim with it (invariant 2), or raise ``TransactionCancelled`` with ``address`` when another
    device holds the new one. False when the device moved meanwhile."""
    t = device.tenant_id
    tx = Transaction()
    tx.update(
        "device",
        DeviceItem(device.device_id),
        [DeviceItem.ip.set(ip), DeviceItem.port.set(port)],
        condition=(DeviceItem.ip == device.ip)
        & (DeviceItem.port == device.port)
        & DeviceItem.status.is_in(*(str(s) for s in HOLDING))
        & (DeviceItem.credential_version == device.credential_version),
    )
    tx.delete(
        "old-address",
        ClaimItem(address_claim(t, _address(device.ip, device.port))),
        condition=ClaimItem.device_id == device.device_id,
    )
    tx.put(
        "address",
        ClaimItem(
            address_claim(t, _address(ip, port)),
            tenant_id=t,
            device_id=device.device_id,
            lic_type_id=device.lic_type_id,
            created_at=device.activated_at,
        ),
        condition=ClaimItem.claim.does_not_exist(),
    )
    return tx.commit_if_current("device", "old-address")


def _holder(item: DeviceItem) -> Holder:
    return Holder(
        item.device_id,
        item.tenant_id,
        item.lic_type_id,
        item.mac,
        item.ip,
        int(item.port),
        DeviceStatus(item.status),
        int(item.credential_version),
    )


# Due entries read per query: a page from each shard in turn.
DUE_PAGE = 100


@dynamodb
def pending_due(now: datetime, limit: int) -> Iterator[Holder]:
    """PENDING devices whose confirm deadline has passed, from the sparse index, at most
    ``limit`` per shard."""
    yield from _due_in_shards(DeviceItem.pending_due, "P", DeviceItem.confirm_by <= now, limit)


@dynamodb
def silent_due(now: datetime, limit: int) -> Iterator[Holder]:
    """Devices holding an instance whose silent deadline has passed, at most ``limit`` per shard."""
    yield from _due_in_shards(DeviceItem.silent_due_index, "S", DeviceItem.silent_due <= int(now.timestamp()), limit)


def _due_in_shards(index, prefix: str, due, limit: int) -> Iterator[Holder]:
    """A page of each shard in turn, oldest first in each: a run stopped early by its budget has
    served every shard, not the first ones only."""
    cursors: dict[int, dict | None] = dict.fromkeys(range(DUE_SHARDS))
    read: Counter = Counter()
    while cursors:
        for shard, cursor in list(cursors.items()):
            page = index.query(
                f"{prefix}{shard}", due, limit=min(DUE_PAGE, limit - read[shard]), last_evaluated_key=cursor
            )
            for item in page:
                read[shard] += 1
                yield _holder(item)
            cursors[shard] = page.last_evaluated_key
            if cursors[shard] is None or read[shard] >= limit:
                del cursors[shard]


@dynamodb
def defer_silent(holder: Holder, now: datetime) -> bool:
    """A device the silent index found before its exact deadline (its bucket rounds down): move
    its index entry to that deadline, so the sweeps read it again only then. Conditional on no
    check-in having moved it meanwhile."""
    return update_if(
        DeviceItem(holder.device_id),
        [DeviceItem.silent_due.set(DeviceItem.silent_at)],
        (DeviceItem.silent_due <= int(now.timestamp())) & (DeviceItem.silent_at > int(now.timestamp())),
    )


@dynamodb
def apply_policy(tenant_id: str, policy: LicensingPolicy, now: datetime) -> int:
    """Write the tenant's check-in interval, silent window and lease length onto each device that
    holds an instance, moving its silent deadline to match. Each write is conditional on the
    last check-in it was computed from: a check-in landing meanwhile is never undone."""
    updated, cursor = 0, None
    while True:
        page, cursor = devices_of_tenant(tenant_id, holding_only=True, limit=100, cursor=cursor)
        for device in page:
            updated += _apply_policy(device, policy)
        if cursor is None:
            return updated


def _apply_policy(device: Device, policy: LicensingPolicy) -> int:
    for _ in range(3):
        last_seen = device.last_check_in_at or device.activated_at
        seen = (
            DeviceItem.last_check_in_at.does_not_exist()
            if device.last_check_in_at is None
            else DeviceItem.last_check_in_at == device.last_check_in_at
        )
        if update_if(
            DeviceItem(device.device_id),
            [
                DeviceItem.lease_s.set(policy.lease_s),
                DeviceItem.silent_after_s.set(policy.silent_after_s),
                DeviceItem.check_in_interval_s.set(policy.check_in_interval_s),
                DeviceItem.silent_due.set(silent_bucket_base(last_seen) + policy.silent_after_s),
                DeviceItem.silent_at.set(int(last_seen.timestamp()) + policy.silent_after_s),
            ],
            seen & DeviceItem.status.is_in(*(str(s) for s in HOLDING)),
        ):
            return 1
        current = get_device(device.device_id)
        if current is None or current.status not in HOLDING:
            return 0
        device = current
    return 0


@dynamodb
def replace(device: Device, *, mac: str, ip: str, port: int, now: datetime) -> Device | None:
    """Move a held license to the LoadMaster that succeeds ``device`` (a new MAC, a rebuilt
    appliance): same device id, instance, license type and history; the MAC and address claims
    move with it, and the credential version is bumped so only the successor's token works.
    Raises ``TransactionCancelled`` with ``mac`` or ``address`` when another device holds the
    new one; None when the device moved meanwhile."""
    t = device.tenant_id
    tx = Transaction()
    tx.update(
        "device",
        DeviceItem(device.device_id),
        [
            DeviceItem.mac.set(mac),
            DeviceItem.ip.set(ip),
            DeviceItem.port.set(port),
            DeviceItem.credential_version.add(1),
            DeviceItem.last_check_in_at.set(now),
            *_silent_deadline(now),
        ],
        condition=(DeviceItem.status == str(device.status))
        & (DeviceItem.credential_version == device.credential_version),
    )
    claim: dict[str, Any] = {
        "tenant_id": t,
        "device_id": device.device_id,
        "lic_type_id": device.lic_type_id,
        "created_at": now,
    }
    held_by_device = ClaimItem.device_id == device.device_id
    if mac != device.mac:
        tx.delete("old-mac", ClaimItem(mac_claim(t, device.mac)), condition=held_by_device)
        tx.put("mac", ClaimItem(mac_claim(t, mac), **claim), condition=ClaimItem.claim.does_not_exist())
    if (ip, port) != (device.ip, device.port):
        tx.delete(
            "old-address", ClaimItem(address_claim(t, _address(device.ip, device.port))), condition=held_by_device
        )
        tx.put(
            "address",
            ClaimItem(address_claim(t, _address(ip, port)), **claim),
            condition=ClaimItem.claim.does_not_exist(),
        )
    tx.put(
        "event",
        event_item(
            t,
            "device.replaced",
            now,
            device_id=device.device_id,
            old_mac=device.mac,
            mac=mac,
            old_ip=device.ip,
            ip=ip,
            port=port,
            lic_type_id=device.lic_type_id,
        ),
    )
    if not tx.commit_if_current("device", "old-mac", "old-address"):
        return None
    return get_device(device.device_id)
