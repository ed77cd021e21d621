"""License types: the tenant's pools of instances, one per SKU or more.

Invariant 7: the pools together never promise more than the contract sells. Every write that
changes a capacity checks the sum on the pools and the tenant as read, and writes in the same
transaction as the tenant's totals under the condition that neither moved since; a lost race is
read again and retried.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chalicelib.domain import ids
from chalicelib.domain.errors import conflict, not_found
from chalicelib.domain.model import LicenseType, OveragePolicy, Tenant, TenantState
from chalicelib.services.tenants import check_license_type_count, guarded_by_pools
from chalicelib.store import events
from chalicelib.store import tenants as store


def list_license_types(tenant: Tenant) -> list[LicenseType]:
    return store.list_license_types(tenant.tenant_id)


def get_license_type(tenant: Tenant, lic_type_id: str) -> LicenseType:
    found = store.get_license_type(tenant.tenant_id, lic_type_id)
    if found is None:
        raise not_found("License type")
    return found


def _check_fits(tenant: Tenant, types: list[LicenseType]) -> None:
    # The pools together never promise more than the contract sells; a trial's pools share its
    # instances (the tenant counts them), so each may hold them all.
    if tenant.state == TenantState.TRIAL:
        total = max((t.capacity for t in types), default=0)
    else:
        total = sum(t.capacity for t in types)
    if total > tenant.capacity:
        raise conflict(
            "The license types' capacities together would exceed the contract's capacity.",
            capacity=tenant.capacity,
            requested_total=total,
        )


def _check_policy(tenant: Tenant, policy: OveragePolicy | None) -> None:
    if policy not in (None, OveragePolicy.NO_OVERAGE) and tenant.state != TenantState.LICENSED:
        raise conflict("Overage is for contracts: a trial's pools keep the hard limit.")


def create_license_type(
    tenant: Tenant, *, name: str, sku: str, capacity: int, overage_policy: OveragePolicy | None, now: datetime
) -> LicenseType:
    lic_type = LicenseType(
        tenant.tenant_id,
        ids.new_lic_type_id(),
        name,
        sku,
        capacity,
        0,
        overage_policy=overage_policy or OveragePolicy.NO_OVERAGE,
    )

    def write(tenant: Tenant, types: list[LicenseType]) -> LicenseType:
        _check_policy(tenant, overage_policy)
        check_license_type_count(len(types) + 1)
        _check_fits(tenant, [*types, lic_type])
        store.create_license_type(lic_type, tenant, types, now)
        return lic_type

    created = guarded_by_pools(tenant.tenant_id, write, tenant=tenant)
    events.record(
        tenant.tenant_id,
        "license_type.created",
        now,
        lic_type_id=created.lic_type_id,
        sku=sku,
        capacity=capacity,
        overage_policy=str(created.overage_policy),
    )
    return created


def update_license_type(
    tenant: Tenant,
    lic_type_id: str,
    *,
    name: str | None,
    capacity: int | None,
    overage_policy: OveragePolicy | None,
    now: datetime,
) -> LicenseType:
    def write(tenant: Tenant, types: list[LicenseType]) -> LicenseType:
        _check_policy(tenant, overage_policy)
        current = _find(types, lic_type_id)
        updated = replace(
            current,
            name=current.name if name is None else name,
            capacity=current.capacity if capacity is None else capacity,
            overage_policy=current.overage_policy if overage_policy is None else overage_policy,
        )
        if updated.capacity < current.in_use:
            raise conflict("A license type cannot shrink below its instances in use.", in_use=current.in_use)
        if updated.capacity > current.capacity:
            _check_fits(tenant, [updated if t.lic_type_id == lic_type_id else t for t in types])
        store.update_license_type(current, updated, tenant, types)
        return updated

    guarded_by_pools(tenant.tenant_id, write, tenant=tenant)
    events.record(
        tenant.tenant_id,
        "license_type.updated",
        now,
        lic_type_id=lic_type_id,
        name=name,
        capacity=capacity,
        overage_policy=str(overage_policy) if overage_policy else None,
    )
    return get_license_type(tenant, lic_type_id)


def delete_license_type(tenant: Tenant, lic_type_id: str, now: datetime) -> None:
    def write(tenant: Tenant, types: list[LicenseType]) -> None:
        store.delete_license_type(_find(types, lic_type_id), tenant, types)

    guarded_by_pools(tenant.tenant_id, write, tenant=tenant)
    events.record(tenant.tenant_id, "license_type.deleted", now, lic_type_id=lic_type_id)


def _find(types: list[LicenseType], lic_type_id: str) -> LicenseType:
    found = next((t for t in types if t.lic_type_id == lic_type_id), None)
    if found is None:
        raise not_found("License type")
    return found
