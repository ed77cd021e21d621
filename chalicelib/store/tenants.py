"""Tenants and their license types."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist

from chalicelib.domain.errors import conflict, not_found
from chalicelib.domain.model import Contract, LicenseType, LicensingPolicy, OveragePolicy, Tenant, TenantState
from chalicelib.store.events import event_item
from chalicelib.store.failures import dynamodb
from chalicelib.store.models import LicenseTypeItem, LicensingPolicyMap, MemberItem, TenantItem
from chalicelib.store.transaction import Transaction, TransactionCancelled, update_if


def tenant_from_item(item: TenantItem) -> Tenant:
    s = item.policy
    return Tenant(
        tenant_id=item.tenant_id,
        name=item.name,
        owner_email=item.owner_email,
        state=TenantState(item.state),
        created_at=item.created_at,
        capacity=int(item.capacity),
        in_use=int(item.in_use),
        trial_expires_at=item.trial_expires_at,
        trial_used=bool(item.trial_used),
        contract_id=item.contract_id,
        contract_starts_at=item.contract_starts_at,
        contract_ends_at=item.contract_ends_at,
        policy=LicensingPolicy(
            int(s.confirm_window_s), int(s.check_in_interval_s), int(s.silent_after_s), int(s.lease_s)
        ),
        api_key_hash=item.api_key_hash,
        activation_key_hash=item.activation_key_hash,
        next_contract=Contract(item.next_contract_id, int(item.next_capacity), item.next_starts_at, item.next_ends_at)
        if item.next_contract_id
        else None,
        allocated=int(item.allocated or 0),
        ceiling=None if item.ceiling is None else int(item.ceiling),
        license_types=int(item.license_types or 0),
        pools_version=int(item.pools_version or 0),
    )


class PoolsChanged(Exception):
    """The tenant's license types, contract or state changed since they were read: the write
    was refused by its condition and nothing was written. Read again and retry."""


def _pools_current(tenant: Tenant):
    """The tenant as read: same state, and no pool or contract written since (each such write
    bumps ``pools_version`` in its own transaction)."""
    version = (
        (TenantItem.pools_version == tenant.pools_version)
        if tenant.pools_version
        else (TenantItem.pools_version.does_not_exist() | (TenantItem.pools_version == 0))
    )
    return TenantItem.tenant_id.exists() & (TenantItem.state == str(tenant.state)) & version


def _totals(types: list[LicenseType]) -> list:
    """The tenant's totals for exactly these pools (invariant 7 is checked on the same numbers
    the write stores, under ``_pools_current``)."""
    limits = [t.overage_policy.max_in_use(t.capacity) for t in types]
    bounded = [limit for limit in limits if limit is not None]  # None: a pool without a limit
    return [
        TenantItem.allocated.set(sum(t.capacity for t in types)),
        TenantItem.license_types.set(len(types)),
        TenantItem.pools_version.add(1),
        TenantItem.ceiling.set(sum(bounded)) if len(bounded) == len(limits) else TenantItem.ceiling.remove(),
    ]


def _commit_pools(tx: Transaction, explain_type=None) -> None:
    """Commit a pool write; a refused pool condition is explained by ``explain_type``, a
    refused tenant condition is ``PoolsChanged``."""
    try:
        tx.commit()
    except TransactionCancelled as e:
        if "type" in e.failed and explain_type is not None:
            explain_type(e)
        if "tenant" in e.failed or "type" in e.failed:
            raise PoolsChanged from e
        raise


def license_type_from_item(item: LicenseTypeItem) -> LicenseType:
    return LicenseType(
        item.tenant_id,
        item.lic_type_id,
        item.name,
        item.sku,
        int(item.capacity),
        int(item.in_use),
        bool(item.trial),
        OveragePolicy(item.overage_policy),
    )


def _license_type_item(t: LicenseType, now: datetime) -> LicenseTypeItem:
    return LicenseTypeItem(
        t.tenant_id,
        t.lic_type_id,
        name=t.name,
        sku=t.sku,
        capacity=t.capacity,
        in_use=t.in_use,
        trial=t.trial,
        created_at=now,
        overage_policy=str(t.overage_policy),
        max_in_use=t.overage_policy.max_in_use(t.capacity),
    )


def tenant_item(tenant: Tenant) -> TenantItem:
    return TenantItem(
        tenant.tenant_id,
        name=tenant.name,
        owner_email=tenant.owner_email,
        state=str(tenant.state),
        created_at=tenant.created_at,
        api_key_hash=tenant.api_key_hash,
        activation_key_hash=tenant.activation_key_hash,
        policy=LicensingPolicyMap(),
    )


@dynamodb
def create_tenant(tenant: Tenant) -> None:
    tenant_item(tenant).save(condition=TenantItem.tenant_id.does_not_exist())


@dynamodb
def get_tenant(tenant_id: str) -> Tenant | None:
    try:
        return tenant_from_item(TenantItem.get(tenant_id))
    except DoesNotExist:
        return None


@dynamodb
def require_tenant(tenant_id: str) -> Tenant:
    tenant = get_tenant(tenant_id)
    if tenant is None:
        raise not_found("Tenant")
    return tenant


@dynamodb
def list_tenants(limit: int, cursor: dict | None) -> tuple[list[Tenant], dict | None]:
    # The tenants table holds one small item per customer: a page of it is cheap.
    result = TenantItem.scan(limit=limit, last_evaluated_key=cursor)
    tenants = [tenant_from_item(i) for i in result]
    return tenants, result.last_evaluated_key


class TrialClaimed(Exception):
    """The email named for the trial has had one (its claim exists): nothing was written."""


@dynamodb
def start_trial(
    tenant: Tenant,
    existing: list[LicenseType],
    expires_at: datetime,
    instances: int,
    types: list[LicenseType],
    now: datetime,
    *,
    email_sha256: str | None = None,
) -> None:
    """The tenant's one trial: state TRIAL, capacity, and a trial license type per SKU, at once.
    ``email_sha256``: an account's verified email starts it, and may start one trial only: its
    claim is written in the same transaction, on the condition that there is none
    (``TrialClaimed``)."""
    tx = Transaction()
    if email_sha256 is not None:
        tx.put(
            "trial-claim",
            MemberItem(f"trial#{email_sha256}", "trial", tenant_id=tenant.tenant_id, created_at=now),
            condition=MemberItem.pk.does_not_exist(),
        )
    tx.update(
        "tenant",
        TenantItem(tenant.tenant_id),
        [
            TenantItem.state.set(str(TenantState.TRIAL)),
            TenantItem.trial_used.set(True),
            TenantItem.trial_expires_at.set(expires_at),
            TenantItem.capacity.set(instances),
            *_totals([*existing, *types]),
        ],
        condition=_pools_current(tenant)
        & (TenantItem.state == str(TenantState.UNLICENSED))
        & (TenantItem.trial_used == False),  # noqa: E712 (a PynamoDB condition, not a bool)
    )
    for t in types:
        tx.put(
            f"type:{t.lic_type_id}", _license_type_item(t, now), condition=LicenseTypeItem.lic_type_id.does_not_exist()
        )
    try:
        _commit_pools(tx)
    except (TransactionCancelled, PoolsChanged) as e:
        cancelled = e if isinstance(e, TransactionCancelled) else e.__cause__
        if isinstance(cancelled, TransactionCancelled) and "trial-claim" in cancelled.failed:
            raise TrialClaimed from e
        raise


@dynamodb
def schedule_contract(tenant_id: str, contract: Contract) -> None:
    """A contract that starts later: kept beside the tenant's current licensing, which it does
    not change before its start (``put_contract_in_force`` then)."""
    actions = [
        TenantItem.next_contract_id.set(contract.contract_id),
        TenantItem.next_capacity.set(contract.capacity),
        TenantItem.next_starts_at.set(contract.starts_at),
        TenantItem.next_ends_at.set(contract.ends_at) if contract.ends_at else TenantItem.next_ends_at.remove(),
    ]
    if not update_if(TenantItem(tenant_id), actions, TenantItem.tenant_id.exists()):
        raise not_found("Tenant")


@dynamodb
def put_contract_in_force(tenant: Tenant, types: list[LicenseType], contract: Contract, *, scheduled: bool) -> None:
    """The tenant becomes LICENSED with the contract's capacity, as read in ``tenant`` and
    ``types``; ``scheduled``: the contract is the tenant's ``next_contract``, due now.

    A trial's devices keep their instances: the condition refuses a capacity below the instances
    in use. Trial license types become contract types. If the pools no longer fit the contract
    (a trial's pools each offer every trial instance; a renewal to a smaller capacity) each
    shrinks to what it holds, and the tenant's totals are written from the same numbers.
    Raises ``PoolsChanged`` when the tenant or a pool moved since it was read."""
    shrink = sum(t.capacity for t in types) > contract.capacity
    new_types = [replace(t, capacity=t.in_use if shrink else t.capacity, trial=False) for t in types]
    tx = Transaction()
    actions = [
        TenantItem.state.set(str(TenantState.LICENSED)),
        TenantItem.contract_id.set(contract.contract_id),
        TenantItem.capacity.set(contract.capacity),
        TenantItem.contract_starts_at.set(contract.starts_at),
        TenantItem.trial_expires_at.remove(),
        *_totals(new_types),
        TenantItem.contract_ends_at.set(contract.ends_at) if contract.ends_at else TenantItem.contract_ends_at.remove(),
    ]
    condition = _pools_current(tenant) & (TenantItem.in_use <= contract.capacity)
    if scheduled:
        actions += [
            TenantItem.next_contract_id.remove(),
            TenantItem.next_capacity.remove(),
            TenantItem.next_starts_at.remove(),
            TenantItem.next_ends_at.remove(),
        ]
        condition &= TenantItem.next_contract_id == contract.contract_id
    tx.update("tenant", TenantItem(tenant.tenant_id), actions, condition=condition)
    for old, new in zip(types, new_types, strict=True):
        type_actions = [LicenseTypeItem.trial.set(False)]
        condition = LicenseTypeItem.lic_type_id.exists() & (LicenseTypeItem.capacity == old.capacity)
        if shrink:
            limit = new.overage_policy.max_in_use(new.capacity)
            type_actions += [
                LicenseTypeItem.capacity.set(new.capacity),
                LicenseTypeItem.max_in_use.set(limit) if limit is not None else LicenseTypeItem.max_in_use.remove(),
            ]
            condition &= LicenseTypeItem.in_use <= new.capacity
        tx.update(
            f"type:{old.lic_type_id}",
            LicenseTypeItem(old.tenant_id, old.lic_type_id),
            type_actions,
            condition=condition,
        )
    try:
        tx.commit()
    except TransactionCancelled as e:
        raise PoolsChanged from e


@dynamodb
def set_state(tenant_id: str, state: TenantState, *, expected: TenantState | None = None) -> bool:
    """Move the tenant to ``state`` (if it is in ``expected``); False when it was not."""
    condition = TenantItem.tenant_id.exists()
    if expected is not None:
        condition &= TenantItem.state == str(expected)
    return update_if(TenantItem(tenant_id), [TenantItem.state.set(str(state))], condition)


@dynamodb
def terminate(tenant_id: str) -> None:
    """TERMINATED, and a contract sold to start later is void too."""
    terminated = [
        TenantItem.state.set(str(TenantState.TERMINATED)),
        TenantItem.next_contract_id.remove(),
        TenantItem.next_capacity.remove(),
        TenantItem.next_starts_at.remove(),
        TenantItem.next_ends_at.remove(),
    ]
    if not update_if(TenantItem(tenant_id), terminated, TenantItem.tenant_id.exists()):
        raise not_found("Tenant")


@dynamodb
def end_contract(tenant_id: str, now: datetime) -> bool:
    """A contract past its end leaves the tenant UNLICENSED; False if it was renewed meanwhile."""
    return update_if(
        TenantItem(tenant_id),
        [TenantItem.state.set(str(TenantState.UNLICENSED))],
        (TenantItem.state == str(TenantState.LICENSED)) & (TenantItem.contract_ends_at <= now),
    )


# License types ---------------------------------------------------------------------------------


@dynamodb
def list_license_types(tenant_id: str) -> list[LicenseType]:
    return [license_type_from_item(i) for i in LicenseTypeItem.query(tenant_id)]


@dynamodb
def get_license_type(tenant_id: str, lic_type_id: str) -> LicenseType | None:
    try:
        return license_type_from_item(LicenseTypeItem.get(tenant_id, lic_type_id))
    except DoesNotExist:
        return None


@dynamodb
def create_license_type(t: LicenseType, tenant: Tenant, types: list[LicenseType], now: datetime) -> None:
    """Add a pool to ``types`` (the tenant's pools as read with ``tenant``); ``PoolsChanged``
    if either moved since."""
    tx = Transaction()
    tx.put("type", _license_type_item(t, now), condition=LicenseTypeItem.lic_type_id.does_not_exist())
    tx.update("tenant", TenantItem(t.tenant_id), _totals([*types, t]), condition=_pools_current(tenant))
    _commit_pools(tx)


@dynamodb
def update_license_type(current: LicenseType, updated: LicenseType, tenant: Tenant, types: list[LicenseType]) -> None:
    """Rename, resize or change the overage policy of a pool, as read in ``current``, with the
    tenant's totals. A pool never shrinks below its instances in use."""
    limit = updated.overage_policy.max_in_use(updated.capacity)
    actions = [
        LicenseTypeItem.capacity.set(updated.capacity),
        LicenseTypeItem.name.set(updated.name),
        LicenseTypeItem.overage_policy.set(str(updated.overage_policy)),
        LicenseTypeItem.max_in_use.set(limit) if limit is not None else LicenseTypeItem.max_in_use.remove(),
    ]
    condition = (
        LicenseTypeItem.lic_type_id.exists()
        & (LicenseTypeItem.in_use <= updated.capacity)
        & (LicenseTypeItem.capacity == current.capacity)
        & (LicenseTypeItem.overage_policy == str(current.overage_policy))
    )
    tx = Transaction()
    tx.update("type", LicenseTypeItem(current.tenant_id, current.lic_type_id), actions, condition=condition)
    others = [t for t in types if t.lic_type_id != current.lic_type_id]
    tx.update("tenant", TenantItem(current.tenant_id), _totals([*others, updated]), condition=_pools_current(tenant))
    _commit_pools(
        tx,
        lambda e: _explain_pool_refusal(
            current,
            e,
            lambda found: found.in_use > updated.capacity,
            "A license type cannot shrink below its instances in use.",
        ),
    )


@dynamodb
def delete_license_type(current: LicenseType, tenant: Tenant, types: list[LicenseType]) -> None:
    tx = Transaction()
    tx.delete(
        "type",
        LicenseTypeItem(current.tenant_id, current.lic_type_id),
        condition=LicenseTypeItem.lic_type_id.exists() & (LicenseTypeItem.in_use == 0),
    )
    others = [t for t in types if t.lic_type_id != current.lic_type_id]
    tx.update("tenant", TenantItem(current.tenant_id), _totals(others), condition=_pools_current(tenant))
    _commit_pools(
        tx,
        lambda e: _explain_pool_refusal(
            current, e, lambda found: found.in_use > 0, "A license type with instances in use cannot be deleted."
        ),
    )


def _explain_pool_refusal(current: LicenseType, e: TransactionCancelled, refused, message: str) -> None:
    """Gone, or holding what the write may not take away: say so. Otherwise it changed meanwhile
    and the caller retries."""
    found = get_license_type(current.tenant_id, current.lic_type_id)
    if found is None:
        raise not_found("License type") from e
    if refused(found):
        raise conflict(message, in_use=found.in_use) from e


@dynamodb
def tenants_to_wind_down(now: datetime, warn_before: timedelta):
    """Contracts sold to start by ``now``, trials past their end or within ``warn_before`` of it
    (not yet warned), contracts past their end, and expired, terminated or unlicensed tenants
    still holding instances. The tenants table holds one small item per customer; this reads it
    page by page."""
    starting = TenantItem.next_starts_at <= now
    ended = (TenantItem.state == str(TenantState.LICENSED)) & (TenantItem.contract_ends_at <= now)
    trial = TenantItem.state == str(TenantState.TRIAL)
    ending = trial & (TenantItem.trial_expires_at <= now)
    warn = trial & (TenantItem.trial_expires_at <= now + warn_before) & (TenantItem.trial_warned != True)  # noqa: E712
    stopped = TenantItem.state.is_in(
        str(TenantState.EXPIRED), str(TenantState.TERMINATED), str(TenantState.UNLICENSED)
    ) & (TenantItem.in_use > 0)
    for item in TenantItem.scan(starting | ending | warn | ended | stopped):
        yield tenant_from_item(item), bool(item.trial_warned)


@dynamodb
def mark_trial_warned(tenant_id: str) -> bool:
    """Record that the trial's end was announced; False if it already was (or is no trial)."""
    return update_if(
        TenantItem(tenant_id),
        [TenantItem.trial_warned.set(True)],
        (TenantItem.state == str(TenantState.TRIAL)) & (TenantItem.trial_warned != True),  # noqa: E712
    )


@dynamodb
def set_policy(tenant_id: str, policy: LicensingPolicy) -> None:
    TenantItem(tenant_id).update(
        [
            TenantItem.policy.set(
                LicensingPolicyMap(
                    **{
                        k: getattr(policy, k)
                        for k in ("confirm_window_s", "check_in_interval_s", "silent_after_s", "lease_s")
                    }
                )
            )
        ],
        condition=TenantItem.tenant_id.exists(),
    )


# The tenant's keys by the name the API gives them.
_KEY_HASH = {"api": TenantItem.api_key_hash, "activation": TenantItem.activation_key_hash}


@dynamodb
def set_key_hash(tenant_id: str, which: str, sha256: str, now: datetime) -> None:
    """Replace the hash of the tenant's ``which`` key (``api`` or ``activation``), with the
    ``key.rotated`` event that says so: the old key stops working at once."""
    tx = Transaction()
    tx.update("tenant", TenantItem(tenant_id), [_KEY_HASH[which].set(sha256)], condition=TenantItem.tenant_id.exists())
    tx.put("event", event_item(tenant_id, "key.rotated", now, key_kind=which))
    try:
        tx.commit()
    except TransactionCancelled as e:
        raise not_found("Tenant") from e
