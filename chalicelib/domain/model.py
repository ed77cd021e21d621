"""The domain objects. Plain data: the store builds them, the services reason on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class TenantState(StrEnum):
    UNLICENSED = "UNLICENSED"
    TRIAL = "TRIAL"
    LICENSED = "LICENSED"
    EXPIRED = "EXPIRED"
    TERMINATED = "TERMINATED"


class DeviceStatus(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"
    DEACTIVATED = "DEACTIVATED"


@dataclass(frozen=True)
class Event:
    """A line of the tenant's debug log: what happened to which device, and why."""

    event_id: str
    at: datetime
    kind: str
    device_id: str | None = None
    code: str | None = None
    detail: dict = field(default_factory=dict)


# The statuses in which a device holds an instance of its license type's pool.
HOLDING = (DeviceStatus.PENDING, DeviceStatus.ACTIVE)


@dataclass(frozen=True)
class LicensingPolicy:
    """The tenant's licensing settings of the seed (``/v1/settings``), with the contract's defaults."""

    confirm_window_s: int = 86400
    check_in_interval_s: int = 3600
    silent_after_s: int = 86400
    lease_s: int = 604800


@dataclass(frozen=True)
class Contract:
    """A Metered Licensing contract: its capacity of instances between two dates."""

    contract_id: str
    capacity: int
    starts_at: datetime
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    owner_email: str
    state: TenantState
    created_at: datetime
    capacity: int = 0
    in_use: int = 0
    trial_expires_at: datetime | None = None
    trial_used: bool = False
    contract_id: str | None = None
    contract_starts_at: datetime | None = None
    contract_ends_at: datetime | None = None
    policy: LicensingPolicy = field(default_factory=LicensingPolicy)
    api_key_hash: str = field(default="", repr=False)
    activation_key_hash: str = field(default="", repr=False)
    # A contract sold to start later: it licenses nothing before its ``starts_at``.
    next_contract: Contract | None = None
    # What the license types promise together, kept with the tenant so that every write that
    # changes a pool checks the sum against the contract in the same transaction: ``allocated``
    # (the capacities), ``ceiling`` (the most their overage policies let them hold; None: no
    # limit), how many there are, and ``pools_version``, bumped by each such write.
    allocated: int = 0
    ceiling: int | None = None
    license_types: int = 0
    pools_version: int = 0

    def due_contract(self, now: datetime) -> Contract | None:
        """The contract sold to start by ``now`` that is not in force yet, if there is one."""
        contract = self.next_contract
        return contract if contract is not None and now >= contract.starts_at else None

    def next_contract_due(self, now: datetime) -> bool:
        return self.due_contract(now) is not None

    def effective_state(self, now: datetime) -> TenantState:
        """The state as of ``now``: a trial past its end is EXPIRED, and a contract past its end
        leaves the tenant UNLICENSED, before the hourly sweep records it, so no LoadMaster is
        licensed in the gap; a contract sold to start later licenses from its start on (the
        first request or sweep after it puts it in force)."""
        if self.state != TenantState.TERMINATED and self.next_contract_due(now):
            return TenantState.LICENSED
        if self.state == TenantState.TRIAL and self.trial_expires_at and now >= self.trial_expires_at:
            return TenantState.EXPIRED
        if self.state == TenantState.LICENSED and self.contract_ends_at and now >= self.contract_ends_at:
            return TenantState.UNLICENSED
        return self.state


class OveragePolicy(StrEnum):
    """How far past its capacity a pool may grant: the seed's hard limit by default."""

    NO_OVERAGE = "NO_OVERAGE"
    ALLOW_1_25X = "ALLOW_1_25X"
    ALLOW_1_5X = "ALLOW_1_5X"
    ALLOW_2X = "ALLOW_2X"
    ALWAYS_ALLOW = "ALWAYS_ALLOW"

    def max_in_use(self, capacity: int) -> int | None:
        """The most instances a pool of ``capacity`` may hold; None for no limit. A fraction of
        an instance is rounded *up*: 1.25 times 3 is 3.75, so 4 (one instance of overage), never
        silently none; a pool of 0 may hold none whatever its policy."""
        quarters = {"NO_OVERAGE": 4, "ALLOW_1_25X": 5, "ALLOW_1_5X": 6, "ALLOW_2X": 8}.get(self.value)
        return None if quarters is None else -(-capacity * quarters // 4)


@dataclass(frozen=True)
class LicenseType:
    tenant_id: str
    lic_type_id: str
    name: str
    sku: str
    capacity: int
    in_use: int
    trial: bool = False
    overage_policy: OveragePolicy = OveragePolicy.NO_OVERAGE

    @property
    def available(self) -> int:
        return max(self.capacity - self.in_use, 0)

    @property
    def overage(self) -> int:
        return max(self.in_use - self.capacity, 0)


@dataclass(frozen=True)
class Device:
    device_id: str
    tenant_id: str
    mac: str
    ip: str
    port: int
    sku: str
    image: str
    version: str
    lic_type_id: str
    status: DeviceStatus
    activated_at: datetime
    confirm_by: datetime
    credential_version: int = 1
    lease_s: int = 604800
    silent_after_s: int = 86400
    check_in_interval_s: int = 3600
    confirmed_at: datetime | None = None
    last_check_in_at: datetime | None = None
    deactivated_at: datetime | None = None
    reason: str | None = None

    def confirm_deadline_passed(self, now: datetime) -> bool:
        return self.status == DeviceStatus.PENDING and now >= self.confirm_by
