"""Tenants and their license types."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError

from chalicelib.domain.errors import conflict, not_found
from chalicelib.domain.model import LicenseType, OveragePolicy, Tenant, TenantSettings, TenantState
from chalicelib.store.models import EventItem, LicenseTypeItem, TenantItem, TenantSettingsMap
from chalicelib.store.transaction import Transaction, TransactionCancelled, failed_condition


def tenant_from_item(item: TenantItem) -> Tenant:
    s = item.settings
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
        settings=TenantSettings(int(s.confirm_window_s), int(s.check_in_interval_s),
                                int(s.silent_after_s), int(s.lease_s)),
        api_key_hash=item.api_key_hash,
        activation_key_hash=item.activation_key_hash,
    )


def license_type_from_item(item: LicenseTypeItem) -> LicenseType:
    return LicenseType(item.tenant_id, item.lic_type_id, item.name, item.sku, int(item.capacity),
                       int(item.in_use), bool(item.trial), OveragePolicy(item.overage_policy))


def _license_type_item(t: LicenseType, now: datetime) -> LicenseTypeItem:
    return LicenseTypeItem(t.tenant_id, t.lic_type_id, name=t.name, sku=t.sku, capacity=t.capacity,
                           in_use=t.in_use, trial=t.trial, created_at=now, overage_policy=str(t.overage_policy),
                           max_in_use=t.overage_policy.max_in_use(t.capacity))


def create_tenant(tenant: Tenant) -> None:
    item = TenantItem(
        tenant.tenant_id, name=tenant.name, owner_email=tenant.owner_email, state=str(tenant.state),
        created_at=tenant.created_at, api_key_hash=tenant.api_key_hash,
        activation_key_hash=tenant.activation_key_hash, settings=TenantSettingsMap(),
    )
    item.save(condition=TenantItem.tenant_id.does_not_exist())


def get_tenant(tenant_id: str) -> Tenant | None:
    try:
        return tenant_from_item(TenantItem.get(tenant_id))
    except DoesNotExist:
        return None


def require_tenant(tenant_id: str) -> Tenant:
    tenant = get_tenant(tenant_id)
    if tenant is None:
        raise not_found("Tenant")
    return tenant


def list_tenants(limit: int, cursor: dict | None) -> tuple[list[Tenant], dict | None]:
    # The tenants table holds one small item per customer: a page of it is cheap.
    result = TenantItem.scan(limit=limit, last_evaluated_key=cursor)
    tenants = [tenant_from_item(i) for i in result]
    return tenants, result.last_evaluated_key


def start_trial(tenant_id: str, expires_at: datetime, instances: int, types: list[LicenseType],
                now: datetime) -> None:
    """The tenant's one trial: state TRIAL, capacity, and a trial license type per SKU, at once."""
    tx = Transaction()
    tx.update(
        "tenant", TenantItem(tenant_id),
        [TenantItem.state.set(str(TenantState.TRIAL)), TenantItem.trial_used.set(True),
         TenantItem.trial_expires_at.set(expires_at), TenantItem.capacity.set(instances)],
        condition=TenantItem.tenant_id.exists()
        & (TenantItem.state == str(TenantState.UNLICENSED))
        & (TenantItem.trial_used == False),  # noqa: E712 (a PynamoDB condition, not a bool)
    )
    for t in types:
        tx.put(f"type:{t.lic_type_id}", _license_type_item(t, now),
               condition=LicenseTypeItem.lic_type_id.does_not_exist())
    try:
        tx.commit()
    except TransactionCancelled as e:
        raise conflict("The tenant has had its trial, or already holds a contract.") from e


def apply_contract(tenant: Tenant, contract_id: str, capacity: int, starts_at: datetime,
                   ends_at: datetime | None, types: list[LicenseType]) -> None:
    """The tenant becomes LICENSED with the contract's capacity. A trial's devices keep their
    instances: the condition refuses a capacity below the instances in use. Trial license types
    become contract types; if their capacities no longer fit the contract they shrink to what
    they hold."""
    total = sum(t.capacity for t in types)
    tx = Transaction()
    actions = [TenantItem.state.set(str(TenantState.LICENSED)), TenantItem.contract_id.set(contract_id),
               TenantItem.capacity.set(capacity), TenantItem.contract_starts_at.set(starts_at),
               TenantItem.trial_expires_at.remove()]
    actions.append(TenantItem.contract_ends_at.set(ends_at) if ends_at else TenantItem.contract_ends_at.remove())
    tx.update("tenant", TenantItem(tenant.tenant_id), actions,
              condition=TenantItem.tenant_id.exists() & (TenantItem.in_use <= capacity))
    for t in types:
        type_actions = [LicenseTypeItem.trial.set(False)]
        condition = LicenseTypeItem.lic_type_id.exists()
        if total > capacity:
            type_actions += [LicenseTypeItem.capacity.set(LicenseTypeItem.in_use),
                             LicenseTypeItem.max_in_use.set(LicenseTypeItem.in_use)]
        tx.update(f"type:{t.lic_type_id}", LicenseTypeItem(t.tenant_id, t.lic_type_id), type_actions,
                  condition=condition)
    try:
        tx.commit()
    except TransactionCancelled as e:
        raise conflict("The contract's capacity is below the instances in use.", capacity=capacity) from e


def set_state(tenant_id: str, state: TenantState, *, expected: TenantState | None = None) -> bool:
    """Move the tenant to ``state`` (if it is in ``expected``); False when it was not."""
    condition = TenantItem.tenant_id.exists()
    if expected is not None:
        condition &= TenantItem.state == str(expected)
    try:
        TenantItem(tenant_id).update([TenantItem.state.set(str(state))], condition=condition)
    except UpdateError as e:
        if failed_condition(e):
            return False
        raise
    return True


def end_contract(tenant_id: str, now: datetime) -> bool:
    """A contract past its end leaves the tenant UNLICENSED; False if it was renewed meanwhile."""
    try:
        TenantItem(tenant_id).update([TenantItem.state.set(str(TenantState.UNLICENSED))],
                                     condition=(TenantItem.state == str(TenantState.LICENSED))
                                     & (TenantItem.contract_ends_at <= now))
    except UpdateError as e:
        if failed_condition(e):
            return False
        raise
    return True


def set_owner(tenant_id: str, owner_email: str) -> None:
    try:
        TenantItem(tenant_id).update([TenantItem.owner_email.set(owner_email)],
                                     condition=TenantItem.tenant_id.exists())
    except UpdateError as e:
        if failed_condition(e):
            raise not_found("Tenant") from e
        raise


# License types ---------------------------------------------------------------------------------


def list_license_types(tenant_id: str) -> list[LicenseType]:
    return [license_type_from_item(i) for i in LicenseTypeItem.query(tenant_id)]


def get_license_type(tenant_id: str, lic_type_id: str) -> LicenseType | None:
    try:
        return license_type_from_item(LicenseTypeItem.get(tenant_id, lic_type_id))
    except DoesNotExist:
        return None


def create_license_type(t: LicenseType, now: datetime) -> None:
    _license_type_item(t, now).save(condition=LicenseTypeItem.lic_type_id.does_not_exist())


def update_license_type(current: LicenseType, *, name: str | None, capacity: int | None,
                        overage_policy: OveragePolicy | None) -> LicenseType:
    """Rename, resize or change the overage policy of a pool, as read in ``current``. A pool
    never shrinks below its instances in use, and the write fails if the pool changed since
    it was read (the limit it stores is computed from what was read)."""
    capacity = current.capacity if capacity is None else capacity
    policy = current.overage_policy if overage_policy is None else overage_policy
    limit = policy.max_in_use(capacity)
    actions = [LicenseTypeItem.capacity.set(capacity), LicenseTypeItem.overage_policy.set(str(policy)),
               LicenseTypeItem.max_in_use.set(limit) if limit is not None else LicenseTypeItem.max_in_use.remove()]
    if name is not None:
        actions.append(LicenseTypeItem.name.set(name))
    condition = (LicenseTypeItem.lic_type_id.exists() & (LicenseTypeItem.in_use <= capacity)
                 & (LicenseTypeItem.capacity == current.capacity)
                 & (LicenseTypeItem.overage_policy == str(current.overage_policy)))
    try:
        LicenseTypeItem(current.tenant_id, current.lic_type_id).update(actions, condition=condition)
    except UpdateError as e:
        if failed_condition(e):
            found = get_license_type(current.tenant_id, current.lic_type_id)
            if found is None:
                raise not_found("License type") from e
            if found.in_use > capacity:
                raise conflict("A license type cannot shrink below its instances in use.",
                               in_use=found.in_use) from e
            raise conflict("The license type changed meanwhile; read it again.") from e
        raise
    found = get_license_type(current.tenant_id, current.lic_type_id)
    if found is None:
        raise not_found("License type")
    return found


def delete_license_type(tenant_id: str, lic_type_id: str) -> None:
    try:
        LicenseTypeItem(tenant_id, lic_type_id).delete(
            condition=LicenseTypeItem.lic_type_id.exists() & (LicenseTypeItem.in_use == 0))
    except DeleteError as e:
        if failed_condition(e):
            if get_license_type(tenant_id, lic_type_id) is None:
                raise not_found("License type") from e
            raise conflict("A license type with instances in use cannot be deleted.") from e
        raise


def tenants_to_wind_down(now: datetime, warn_before: timedelta):
    """Trials past their end or within ``warn_before`` of it (not yet warned), contracts past
    their end, and expired, terminated or unlicensed tenants still holding instances. The tenants
    table holds one small item per customer; this reads it page by page."""
    ended = (TenantItem.state == str(TenantState.LICENSED)) & (TenantItem.contract_ends_at <= now)
    trial = TenantItem.state == str(TenantState.TRIAL)
    ending = trial & (TenantItem.trial_expires_at <= now)
    warn = trial & (TenantItem.trial_expires_at <= now + warn_before) & (TenantItem.trial_warned != True)  # noqa: E712
    stopped = TenantItem.state.is_in(str(TenantState.EXPIRED), str(TenantState.TERMINATED),
                                     str(TenantState.UNLICENSED)) & (TenantItem.in_use > 0)
    for item in TenantItem.scan(ending | warn | ended | stopped):
        yield tenant_from_item(item), bool(item.trial_warned)


def mark_trial_warned(tenant_id: str) -> bool:
    """Record that the trial's end was announced; False if it already was (or is no trial)."""
    try:
        TenantItem(tenant_id).update([TenantItem.trial_warned.set(True)],
                                     condition=(TenantItem.state == str(TenantState.TRIAL))
                                     & (TenantItem.trial_warned != True))  # noqa: E712
    except UpdateError as e:
        if failed_condition(e):
            return False
        raise
    return True


def all_license_types():
    """Every license type of every tenant, for the meter: one small item per pool."""
    for item in LicenseTypeItem.scan():
        yield license_type_from_item(item)


def set_settings(tenant_id: str, settings: TenantSettings) -> None:
    TenantItem(tenant_id).update(
        [TenantItem.settings.set(TenantSettingsMap(**{k: getattr(settings, k) for k in (
            "confirm_window_s", "check_in_interval_s", "silent_after_s", "lease_s")}))],
        condition=TenantItem.tenant_id.exists())


def set_key_hash(tenant_id: str, attribute: str, sha256: str, event: EventItem) -> None:
    """Replace a key's hash, with the event that says so: the old key stops working at once."""
    tx = Transaction()
    tx.update("tenant", TenantItem(tenant_id), [getattr(TenantItem, attribute).set(sha256)],
              condition=TenantItem.tenant_id.exists())
    tx.put("event", event)
    try:
        tx.commit()
    except TransactionCancelled as e:
        raise not_found("Tenant") from e
