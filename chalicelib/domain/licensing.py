"""The licensing rules: guard clauses in the order the contract gives, each naming the seed rule
(installation guide, section 7.1) it enforces. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.errors import Code, DomainError
from chalicelib.domain.model import Device, DeviceStatus, LicenseType, TenantState


@dataclass(frozen=True)
class ExistingLicense:
    issuer: str
    active: bool


@dataclass(frozen=True)
class LoadMaster:
    """What a LoadMaster tells about itself when it asks for a license."""

    mac: str
    ip: str
    port: int
    sku: str
    image: str
    version: str
    existing_license: ExistingLicense | None = None

    @property
    def address(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


def is_spla_image(image: str) -> bool:
    # Only LoadMasters installed from an image with "SPLA" in its file name can obtain a license.
    return "SPLA" in image.upper()


def tenant_refusal(state: TenantState, lm: LoadMaster) -> DomainError | None:
    """The first guards of the order, which need nothing but the tenant's effective state and
    what the LoadMaster says: an activation checks them before it reads anything."""
    # "Kemp 360 is unlicensed.": no trial and no contract (or it ended), or it was terminated.
    if state in (TenantState.UNLICENSED, TenantState.TERMINATED):
        return DomainError(Code.CENTRAL_UNLICENSED)
    # "Trial has Expired.": licensing against a Central whose MELA trial has expired.
    if state == TenantState.EXPIRED:
        return DomainError(Code.TRIAL_EXPIRED)
    # "Not issuing license to LM because ... trial license and LM has active license from
    # another Central/ALSI".
    if state == TenantState.TRIAL and lm.existing_license is not None and lm.existing_license.active:
        return DomainError(Code.TRIAL_CONFLICT)
    return None


def activation_refusal(
    state: TenantState,
    lm: LoadMaster,
    *,
    mac_blocked: Callable[[], bool],
    types: Callable[[], list[LicenseType]],
    lic_type_id: str | None = None,
    address_taken: bool = False,
    no_instance: bool = False,
) -> DomainError | None:
    """The one licensing decision, in the contract's order: the first refusal that applies, or
    None. ``state`` is the tenant's effective state; ``mac_blocked`` and ``types`` are read only
    when the order gets to them; ``address_taken`` and ``no_instance`` are what a refused
    transaction said. ``lic_type_id`` is None for the license-types question (step 6)."""
    refusal = tenant_refusal(state, lm)
    if refusal is not None:
        return refusal
    # "This LoadMaster cannot be licensed against this Kemp 360 Central at this time.": BLOCKED.
    if mac_blocked():
        return DomainError(Code.DEVICE_BLOCKED)
    # "No Local license found.": metered licensing needs an SPLA image (section 7.2).
    if not is_spla_image(lm.image):
        return DomainError(Code.NO_LOCAL_LICENSE)
    # "No License configured for LM SKU <sku>.": no license type matches the LoadMaster's SKU.
    matching = [t for t in types() if t.sku == lm.sku]
    if not matching:
        return DomainError(Code.NO_LICENSE_FOR_SKU, sku=lm.sku)
    # "Invalid License Type ID provided.": the id does not exist or is not of the LM's type.
    if lic_type_id is not None and all(t.lic_type_id != lic_type_id for t in matching):
        return DomainError(Code.INVALID_LICENSE_TYPE)
    # "Device with same IP Address already exist.": another device holds this IP and port.
    if address_taken:
        return DomainError(Code.DUPLICATE_ADDRESS)
    # "Local license instance limit reached.": the pool or the contract has no free instance.
    if no_instance:
        return DomainError(Code.INSTANCE_LIMIT_REACHED)
    return None


class DeviceVerdict(StrEnum):
    """What a LoadMaster's call after activation finds of its device, in the order it is told."""

    UNKNOWN = "UNKNOWN"  # no such device in the token's tenant
    REVOKED = "REVOKED"  # the token's credential version is not the device's (replaced, rotated)
    CLONE = "CLONE"  # the token is the device's, the MAC is another LoadMaster's
    BLOCKED = "BLOCKED"
    DEACTIVATED = "DEACTIVATED"
    HOLDING = "HOLDING"  # PENDING or ACTIVE: the call may go ahead


def device_verdict(
    device: Device | None, *, tenant_id: str, credential_version: int, mac: str | None = None
) -> DeviceVerdict:
    """The status ladder of check-in, confirm and deactivate; ``mac`` when the call says one."""
    if device is None or device.tenant_id != tenant_id:
        return DeviceVerdict.UNKNOWN
    if device.credential_version != credential_version:
        return DeviceVerdict.REVOKED
    # Invariant 9: one device token licenses one LoadMaster.
    if mac is not None and device.mac != mac:
        return DeviceVerdict.CLONE
    if device.status == DeviceStatus.BLOCKED:
        return DeviceVerdict.BLOCKED
    if device.status == DeviceStatus.DEACTIVATED:
        return DeviceVerdict.DEACTIVATED
    return DeviceVerdict.HOLDING


def verdict_error(verdict: DeviceVerdict, mac: str) -> DomainError:
    """The contract's answer to a verdict that refuses the call."""
    # "LM not added in the system because ... with MAC <mac>": the tenant does not know it.
    if verdict == DeviceVerdict.UNKNOWN:
        return DomainError(Code.UNKNOWN_DEVICE, mac=mac)
    # "Can't verify check.": a revoked token, or a clone carrying another device's token.
    if verdict in (DeviceVerdict.REVOKED, DeviceVerdict.CLONE):
        return DomainError(Code.VERIFY_FAILED)
    # "This LoadMaster cannot be licensed against this Kemp 360 Central at this time."
    if verdict == DeviceVerdict.BLOCKED:
        return DomainError(Code.DEVICE_BLOCKED)
    if verdict == DeviceVerdict.DEACTIVATED:
        return DomainError(Code.DEVICE_DEACTIVATED)
    raise ValueError(f"{verdict} is not a refusal")
