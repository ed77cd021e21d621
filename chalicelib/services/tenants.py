"""Tenants: the operator's side (create, trial, contract, terminate, ownership) and the
tenant's view of its own licensing state."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.domain import ids
from chalicelib.domain.errors import Code, DomainError, conflict
from chalicelib.domain.model import HOLDING, DeviceStatus, LicenseType, Tenant, TenantState
from chalicelib.observability import logger
from chalicelib.security.keys import KeyKind, issue_key
from chalicelib.store import devices as device_store
from chalicelib.store import events
from chalicelib.store import tenants as store


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    api_key: str
    activation_key: str


def create_tenant(name: str, owner_email: str, now: datetime) -> NewTenant:
    """A customer account, UNLICENSED, with its two keys (returned here once, stored hashed)."""
    tenant_id = ids.new_tenant_id()
    api_key, activation_key = issue_key(KeyKind.API, tenant_id), issue_key(KeyKind.ACTIVATION, tenant_id)
    tenant = Tenant(tenant_id=tenant_id, name=name, owner_email=owner_email, state=TenantState.UNLICENSED,
                    created_at=now, api_key_hash=api_key.sha256, activation_key_hash=activation_key.sha256)
    store.create_tenant(tenant)
    logger.info("tenant created", extra={"tenant_id": tenant_id})
    events.record(tenant_id, "tenant.created", now, name=name)
    return NewTenant(tenant, api_key.plaintext, activation_key.plaintext)


def get_tenant(tenant_id: str) -> Tenant:
    return store.require_tenant(tenant_id)


def list_tenants(limit: int, cursor: dict | None) -> tuple[list[Tenant], dict | None]:
    return store.list_tenants(limit, cursor)


def start_trial(tenant_id: str, *, days: int, instances: int, skus: list[str], now: datetime) -> Tenant:
    """The seed's Metered Licensing trial: a few instances that expire. One per tenant."""
    tenant = store.require_tenant(tenant_id)
    if tenant.trial_used or tenant.state != TenantState.UNLICENSED:
        raise conflict("The tenant has had its trial, or already holds a contract.", state=str(tenant.state))
    # Each SKU's pool may take every trial instance; the tenant's capacity caps them together.
    types = [LicenseType(tenant_id, ids.new_lic_type_id(), f"Trial {sku}", sku, instances, 0, trial=True)
             for sku in dict.fromkeys(skus)]
    store.start_trial(tenant_id, now + timedelta(days=days), instances, types, now)
    logger.info("trial started", extra={"tenant_id": tenant_id, "days": days, "instances": instances})
    events.record(tenant_id, "trial.started", now, days=days, instances=instances, skus=list(dict.fromkeys(skus)))
    return store.require_tenant(tenant_id)


def apply_contract(tenant_id: str, *, contract_id: str, capacity: int, starts_at: datetime,
                   ends_at: datetime | None, now: datetime) -> Tenant:
    """The Metered Licensing contract: LICENSED with its capacity. Devices licensed under the
    trial keep their instances inside the new capacity."""
    tenant = store.require_tenant(tenant_id)
    if capacity < tenant.in_use:
        raise conflict("The contract's capacity is below the instances in use.", in_use=tenant.in_use)
    store.apply_contract(tenant, contract_id, capacity, starts_at, ends_at, store.list_license_types(tenant_id))
    logger.info("contract applied", extra={"tenant_id": tenant_id, "contract_id": contract_id, "capacity": capacity})
    events.record(tenant_id, "contract.applied", now, contract_id=contract_id, capacity=capacity)
    return store.require_tenant(tenant_id)


def terminate(tenant_id: str, now: datetime) -> tuple[Tenant, int]:
    """The contract is terminated: TERMINATED at once (no new activation passes the tenant's
    condition), then every device holding an instance is deactivated and gives it back.
    Running it again finishes what an interrupted run left."""
    store.require_tenant(tenant_id)
    store.set_state(tenant_id, TenantState.TERMINATED)
    events.record(tenant_id, "tenant.terminated", now)
    deactivated = deactivate_all(tenant_id, "contract terminated", now)
    logger.info("tenant terminated", extra={"tenant_id": tenant_id, "deactivated": deactivated})
    return store.require_tenant(tenant_id), deactivated


def deactivate_all(tenant_id: str, reason: str, now: datetime) -> int:
    """Deactivate every device of the tenant that holds an instance; the count deactivated."""
    count, cursor = 0, None
    while True:
        devices, cursor = device_store.devices_of_tenant(tenant_id, cursor=cursor, holding_only=True, limit=100)
        for device in devices:
            count += _deactivate(device, reason, now)
        if cursor is None:
            return count


def _deactivate(device, reason: str, now: datetime) -> int:
    # A device that moves while we act (a check-in, a confirm) is read again and retried; one
    # that stopped holding (another sweep got there first) is left alone.
    for _ in range(5):
        if device is None or device.status not in HOLDING:
            return 0
        if device_store.release(device_store.Holder.of(device), DeviceStatus.DEACTIVATED, reason, now):
            return 1
        device = device_store.get_device(device.device_id)
    # A device this busy is left to the next run (terminate again, or the hourly sweep).
    raise DomainError(Code.UNAVAILABLE, detail={"device_id": device.device_id})


def change_owner(tenant_id: str, owner_email: str, now: datetime) -> Tenant:
    """Change of ownership (seed 2.3): the account moves to another owner's email."""
    store.set_owner(tenant_id, owner_email)
    logger.info("owner changed", extra={"tenant_id": tenant_id})
    events.record(tenant_id, "owner.changed", now)
    return store.require_tenant(tenant_id)


def with_effective_state(tenant: Tenant, now: datetime) -> Tenant:
    return replace(tenant, state=tenant.effective_state(now))
