"""License types: the tenant's pools of instances, one per SKU or more."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import ids
from chalicelib.domain.errors import conflict, not_found
from chalicelib.domain.model import LicenseType, OveragePolicy, Tenant, TenantState
from chalicelib.store import events
from chalicelib.store import tenants as store


def list_license_types(tenant: Tenant) -> list[LicenseType]:
    return store.list_license_types(tenant.tenant_id)


def get_license_type(tenant: Tenant, lic_type_id: str) -> LicenseType:
    found = store.get_license_type(tenant.tenant_id, lic_type_id)
    if found is None:
        raise not_found("License type")
    return found


def _check_fits(tenant: Tenant, others: list[LicenseType], capacity: int) -> None:
    # The pools together never promise more than the contract sells; a trial's pools share its
    # instances (the tenant counts them), so each may hold them all.
    trial = tenant.state == TenantState.TRIAL
    total = capacity if trial else sum(t.capacity for t in others) + capacity
    if total > tenant.capacity:
        raise conflict("The license types' capacities together would exceed the contract's capacity.",
                       capacity=tenant.capacity, requested_total=total)


def _check_policy(tenant: Tenant, policy: OveragePolicy | None) -> None:
    if policy not in (None, OveragePolicy.NO_OVERAGE) and tenant.state != TenantState.LICENSED:
        raise conflict("Overage is for contracts: a trial's pools keep the hard limit.")


def create_license_type(tenant: Tenant, *, name: str, sku: str, capacity: int,
                        overage_policy: OveragePolicy | None, now: datetime) -> LicenseType:
    _check_policy(tenant, overage_policy)
    _check_fits(tenant, store.list_license_types(tenant.tenant_id), capacity)
    lic_type = LicenseType(tenant.tenant_id, ids.new_lic_type_id(), name, sku, capacity, 0,
                           overage_policy=overage_policy or OveragePolicy.NO_OVERAGE)
    store.create_license_type(lic_type, now)
    events.record(tenant.tenant_id, "license_type.created", now, lic_type_id=lic_type.lic_type_id, sku=sku,
                  capacity=capacity, overage_policy=str(lic_type.overage_policy))
    return lic_type


def update_license_type(tenant: Tenant, lic_type_id: str, *, name: str | None, capacity: int | None,
                        overage_policy: OveragePolicy | None, now: datetime) -> LicenseType:
    _check_policy(tenant, overage_policy)
    types = store.list_license_types(tenant.tenant_id)
    current = next((t for t in types if t.lic_type_id == lic_type_id), None)
    if current is None:
        raise not_found("License type")
    if capacity is not None:
        _check_fits(tenant, [t for t in types if t.lic_type_id != lic_type_id], capacity)
    updated = store.update_license_type(current, name=name, capacity=capacity, overage_policy=overage_policy)
    events.record(tenant.tenant_id, "license_type.updated", now, lic_type_id=lic_type_id, name=name,
                  capacity=capacity, overage_policy=str(overage_policy) if overage_policy else None)
    return updated


def delete_license_type(tenant: Tenant, lic_type_id: str, now: datetime) -> None:
    store.delete_license_type(tenant.tenant_id, lic_type_id)
    events.record(tenant.tenant_id, "license_type.deleted", now, lic_type_id=lic_type_id)
