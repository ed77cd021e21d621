"""License types: the tenant's pools of instances, one per SKU or more."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import ids
from chalicelib.domain.errors import conflict, not_found
from chalicelib.domain.model import LicenseType, Tenant
from chalicelib.store import tenants as store


def list_license_types(tenant: Tenant) -> list[LicenseType]:
    return store.list_license_types(tenant.tenant_id)


def get_license_type(tenant: Tenant, lic_type_id: str) -> LicenseType:
    found = store.get_license_type(tenant.tenant_id, lic_type_id)
    if found is None:
        raise not_found("License type")
    return found


def _check_fits(tenant: Tenant, others: list[LicenseType], capacity: int) -> None:
    # The pools together never promise more than the contract (or trial) sells.
    total = sum(t.capacity for t in others) + capacity
    if total > tenant.capacity:
        raise conflict("The license types' capacities together would exceed the contract's capacity.",
                       capacity=tenant.capacity, requested_total=total)


def create_license_type(tenant: Tenant, *, name: str, sku: str, capacity: int, now: datetime) -> LicenseType:
    _check_fits(tenant, store.list_license_types(tenant.tenant_id), capacity)
    lic_type = LicenseType(tenant.tenant_id, ids.new_lic_type_id(), name, sku, capacity, 0)
    store.create_license_type(lic_type, now)
    return lic_type


def update_license_type(tenant: Tenant, lic_type_id: str, *, name: str | None, capacity: int | None) -> LicenseType:
    if capacity is not None:
        types = store.list_license_types(tenant.tenant_id)
        if not any(t.lic_type_id == lic_type_id for t in types):
            raise not_found("License type")
        _check_fits(tenant, [t for t in types if t.lic_type_id != lic_type_id], capacity)
    return store.update_license_type(tenant.tenant_id, lic_type_id, name=name, capacity=capacity)


def delete_license_type(tenant: Tenant, lic_type_id: str) -> None:
    store.delete_license_type(tenant.tenant_id, lic_type_id)
