"""Tenants: the operator's side (create, trial, contract, terminate, ownership) and the
tenant's view of its own licensing state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.budget import Budget
from chalicelib.domain import ids
from chalicelib.domain.accounts import normalise_email
from chalicelib.domain.errors import Code, DomainError, conflict, validation
from chalicelib.domain.model import HOLDING, Contract, DeviceStatus, LicenseType, Tenant, TenantState
from chalicelib.observability import logger
from chalicelib.security.keys import KeyKind, issue_key
from chalicelib.services import accounts
from chalicelib.settings import get_settings
from chalicelib.store import devices as device_store
from chalicelib.store import events, identity
from chalicelib.store import members as member_store
from chalicelib.store import tenants as store

# How often a write guarded by what it read is tried again after losing a race.
ATTEMPTS = 5


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    api_key: str
    activation_key: str


def create_tenant(name: str, owner_email: str, now: datetime) -> NewTenant:
    """A customer account, UNLICENSED, with its two keys (returned here once, stored hashed), and
    the invitation of ``owner_email`` as its owner: the account with that email owns the tenant
    from its confirmation on (at once when it has one), as an owner's invitation of a member."""
    tenant_id = ids.new_tenant_id()
    api_key, activation_key = issue_key(KeyKind.API, tenant_id), issue_key(KeyKind.ACTIVATION, tenant_id)
    tenant = Tenant(
        tenant_id=tenant_id,
        name=name,
        owner_email=normalise_email(owner_email),
        state=TenantState.UNLICENSED,
        created_at=now,
        api_key_hash=api_key.sha256,
        activation_key_hash=activation_key.sha256,
    )
    invitation = member_store.create_tenant_inviting_owner(tenant, now)
    logger.info("tenant created", extra={"tenant_id": tenant_id})
    events.record(tenant_id, "tenant.created", now, name=name)
    events.record(tenant_id, "member.invited", now, email=invitation.email, role=str(invitation.role))
    _owner_joins(tenant_id, invitation.email, now)
    return NewTenant(tenant, api_key.plaintext, activation_key.plaintext)


def get_tenant(tenant_id: str) -> Tenant:
    return store.require_tenant(tenant_id)


def list_tenants(limit: int, cursor: dict | None) -> tuple[list[Tenant], dict | None]:
    return store.list_tenants(limit, cursor)


def guarded_by_pools[T](
    tenant_id: str, write: Callable[[Tenant, list[LicenseType]], T], *, tenant: Tenant | None = None
) -> T:
    """Run ``write`` on the tenant and its license types as read now (``tenant`` when the caller
    has just read it), and again on a fresh read while the write is refused because either moved
    since (``PoolsChanged``): invariant 7 is checked on what the write's condition guards."""
    for attempt in range(ATTEMPTS):
        if tenant is None or attempt:
            tenant = store.require_tenant(tenant_id)
        try:
            return write(tenant, store.list_license_types(tenant_id))
        except store.PoolsChanged:
            continue
    raise DomainError(Code.UNAVAILABLE)


def start_trial(
    tenant_id: str,
    *,
    days: int,
    instances: int,
    skus: list[str],
    now: datetime,
    email_sha256: str | None = None,
    started_by: str | None = None,
) -> Tenant:
    """The seed's Metered Licensing trial: a few instances that expire. One per tenant, and, when
    an account starts it (``email_sha256`` of its verified email, ``started_by`` its id), one per
    email: the email's claim is written in the trial's transaction."""
    skus = list(dict.fromkeys(skus))

    def write(tenant: Tenant, existing: list[LicenseType]) -> None:
        if tenant.trial_used or tenant.state != TenantState.UNLICENSED:
            raise conflict("The tenant has had its trial, or already holds a contract.", state=str(tenant.state))
        # Each SKU's pool may take every trial instance; the tenant's capacity caps them together.
        types = [
            LicenseType(tenant_id, ids.new_lic_type_id(), f"Trial {sku}", sku, instances, 0, trial=True) for sku in skus
        ]
        check_license_type_count(len(existing) + len(types))
        try:
            store.start_trial(
                tenant, existing, now + timedelta(days=days), instances, types, now, email_sha256=email_sha256
            )
        except store.TrialClaimed as e:
            raise conflict("This email has had its trial already.") from e

    guarded_by_pools(tenant_id, write)
    logger.info("trial started", extra={"tenant_id": tenant_id, "days": days, "instances": instances})
    events.record(tenant_id, "trial.started", now, days=days, instances=instances, skus=skus, by=started_by)
    return store.require_tenant(tenant_id)


def check_license_type_count(count: int) -> None:
    limit = get_settings().max_license_types_per_tenant
    if count > limit:
        raise conflict(f"A tenant may have at most {limit} license types.", limit=limit)


def apply_contract(
    tenant_id: str, *, contract_id: str, capacity: int, starts_at: datetime, ends_at: datetime | None, now: datetime
) -> Tenant:
    """The Metered Licensing contract: from ``starts_at`` on the tenant is LICENSED with its
    capacity. Devices licensed under a trial keep their instances inside the new capacity. A
    contract that starts later is kept until then; the tenant's licensing does not change
    before it."""
    fields = {}
    if ends_at is not None and ends_at <= starts_at:
        fields["ends_at"] = "must be after starts_at"
    elif ends_at is not None and ends_at <= now:
        fields["ends_at"] = "must be in the future"
    if fields:
        raise validation("The contract's dates are not valid.", fields)
    contract = Contract(contract_id, capacity, starts_at, ends_at)
    if starts_at > now:
        store.schedule_contract(tenant_id, contract)
        logger.info("contract scheduled", extra={"tenant_id": tenant_id, "contract_id": contract_id})
        events.record(
            tenant_id,
            "contract.scheduled",
            now,
            contract_id=contract_id,
            capacity=capacity,
            starts_at=clock.rfc3339(starts_at),
        )
        return store.require_tenant(tenant_id)
    return _put_in_force(tenant_id, contract, now, scheduled=False)


def promote_due_contract(tenant: Tenant, now: datetime) -> Tenant:
    """Put in force a contract sold to start by ``now`` (the first request or sweep after its
    start does it; later ones find it done). The tenant as it is afterwards."""
    contract = tenant.due_contract(now)
    if tenant.state == TenantState.TERMINATED or contract is None:
        return tenant
    try:
        return _put_in_force(tenant.tenant_id, contract, now, scheduled=True)
    except DomainError as e:
        if e.code != Code.CONFLICT:
            raise
        # Its capacity is below the instances in use: the operator has to sell another.
        logger.warning("scheduled contract cannot start", extra={"tenant_id": tenant.tenant_id, "error": e.message})
        return tenant


def _put_in_force(tenant_id: str, contract: Contract, now: datetime, *, scheduled: bool) -> Tenant:
    def write(tenant: Tenant, types: list[LicenseType]) -> bool:
        if scheduled and tenant.next_contract != contract:
            return False  # another request or sweep put it in force first
        if contract.capacity < tenant.in_use:
            raise conflict("The contract's capacity is below the instances in use.", in_use=tenant.in_use)
        store.put_contract_in_force(tenant, types, contract, scheduled=scheduled)
        return True

    if guarded_by_pools(tenant_id, write):
        logger.info(
            "contract applied",
            extra={"tenant_id": tenant_id, "contract_id": contract.contract_id, "capacity": contract.capacity},
        )
        events.record(tenant_id, "contract.applied", now, contract_id=contract.contract_id, capacity=contract.capacity)
    return store.require_tenant(tenant_id)


def terminate(tenant_id: str, now: datetime) -> tuple[Tenant, int]:
    """The contract is terminated: TERMINATED at once (no new activation passes the tenant's
    condition), then every device holding an instance is deactivated and gives it back, for
    as long as the tenant stays TERMINATED. Running it again finishes what an interrupted run
    left."""
    store.require_tenant(tenant_id)
    store.terminate(tenant_id)
    events.record(tenant_id, "tenant.terminated", now)
    deactivated = wind_down(tenant_id, TenantState.TERMINATED, "contract terminated", now)
    logger.info("tenant terminated", extra={"tenant_id": tenant_id, "deactivated": deactivated})
    return store.require_tenant(tenant_id), deactivated


def wind_down(tenant_id: str, state: TenantState, reason: str, now: datetime, budget: Budget | None = None) -> int:
    """Deactivate every device of a tenant that ``state`` leaves without a license; the count
    deactivated. Each release is conditional on the tenant still being in ``state``: a contract
    that lands meanwhile stops the wind-down at once, and every remaining device keeps its
    instance (invariant 8). With a ``budget`` (a scheduled run), it stops once the budget is
    spent: the tenant still holds instances, so the next run of ``expire_trials`` goes on."""
    count, cursor = 0, None
    while True:
        devices, cursor = device_store.devices_of_tenant(tenant_id, cursor=cursor, holding_only=True, limit=100)
        for device in devices:
            if budget is not None and not budget.left():
                return count
            released = _deactivate(device, state, reason, now)
            if released is None:
                logger.info(
                    "wind-down stopped", extra={"tenant_id": tenant_id, "state": str(state), "deactivated": count}
                )
                return count
            count += released
        if cursor is None:
            return count


def _deactivate(device, state: TenantState, reason: str, now: datetime) -> int | None:
    # A device that moves while we act (a check-in, a confirm) is read again and retried; one
    # that stopped holding (another sweep got there first) is left alone. None: stop, the
    # tenant is no longer in ``state``.
    for _ in range(5):
        if device is None or device.status not in HOLDING:
            return 0
        released = device_store.release(
            device_store.Holder.of(device), DeviceStatus.DEACTIVATED, reason, now, while_tenant=state
        )
        if released == device_store.Released.STOPPED:
            return None
        if released == device_store.Released.RELEASED:
            return 1
        device = device_store.get_device(device.device_id)
    # A device this busy is left to the next run (terminate again, or the hourly sweep).
    raise DomainError(Code.UNAVAILABLE, detail={"device_id": device.device_id})


def change_owner(tenant_id: str, owner_email: str, now: datetime) -> Tenant:
    """Change of ownership (seed 2.3), for support cases, keeping one owner member at every
    moment. A member with that email's confirmed account becomes the owner at once (the owner an
    admin, in one transaction conditional on both roles, as an owner's transfer). Any other email
    is invited as owner in the write that moves ``owner_email`` (older owner invitations go): the
    owner member stays until that account joins, at once when it is confirmed already. The same
    call again changes nothing more."""
    email = normalise_email(owner_email)
    for _ in range(ATTEMPTS):
        tenant = store.require_tenant(tenant_id)
        account = identity.find_account(email) if identity.enabled() else None
        member = member_store.membership(account.account_id, tenant_id) if account and account.confirmed else None
        owner = member_store.owner_of(tenant_id)
        if member is None or owner is None:
            return _invite_owner(tenant, email, now)
        if owner.account_id != member.account_id:
            try:
                member_store.give_to_member(tenant_id, owner.account_id, member)
            except member_store.OwnerMoved:
                continue  # an owner's transfer, or a join, landed between the read and the write
            logger.info("owner changed", extra={"tenant_id": tenant_id})
            events.record(tenant_id, "ownership.transferred", now, account_id=member.account_id, by="operator")
        return store.require_tenant(tenant_id)
    raise DomainError(Code.UNAVAILABLE)


def _invite_owner(tenant: Tenant, email: str, now: datetime) -> Tenant:
    invitation = member_store.invite_owner(tenant, email, now)
    logger.info("owner invited", extra={"tenant_id": tenant.tenant_id})
    events.record(
        tenant.tenant_id, "member.invited", now, email=invitation.email, role=str(invitation.role), by="operator"
    )
    _owner_joins(tenant.tenant_id, invitation.email, now)
    return store.require_tenant(tenant.tenant_id)


def _owner_joins(tenant_id: str, email: str, now: datetime) -> None:
    """The invited owner's confirmed account takes the tenant now. While Cognito cannot say
    whether it has one, the invitation is written all the same (a retry of a tenant's creation
    would make another): the owner joins at the next sign-in."""
    try:
        accounts.join_if_confirmed(email, now)
    except DomainError as e:
        if e.code != Code.UNAVAILABLE:
            raise
        logger.warning("owner not joined yet", extra={"tenant_id": tenant_id})


def with_effective_state(tenant: Tenant, now: datetime) -> Tenant:
    """The tenant as a caller should see it at ``now``: a contract sold to start by then is in
    force, whether or not a request or sweep has recorded it yet."""
    state = tenant.effective_state(now)
    c = tenant.due_contract(now)
    if tenant.state != TenantState.TERMINATED and c is not None:
        tenant = replace(
            tenant,
            contract_id=c.contract_id,
            capacity=c.capacity,
            contract_starts_at=c.starts_at,
            contract_ends_at=c.ends_at,
            trial_expires_at=None,
            next_contract=None,
        )
    return replace(tenant, state=state)
