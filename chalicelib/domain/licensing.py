"""The licensing rules: guard clauses in the order the contract gives, each naming the seed rule
(installation guide, section 7.1) it enforces. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import Code, DomainError
from chalicelib.domain.model import LicenseType, Tenant, TenantState


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


def tenant_may_license(tenant: Tenant, lm: LoadMaster, now: datetime) -> None:
    """The tenant-level guards, before anything about the device is read."""
    state = tenant.effective_state(now)
    # "Kemp 360 is unlicensed.": no trial and no contract (or it ended), or it was terminated.
    if state in (TenantState.UNLICENSED, TenantState.TERMINATED):
        raise DomainError(Code.CENTRAL_UNLICENSED)
    # "Trial has Expired.": licensing against a Central whose MELA trial has expired.
    if state == TenantState.EXPIRED:
        raise DomainError(Code.TRIAL_EXPIRED)
    # "Not issuing license to LM because ... trial license and LM has active license from
    # another Central/ALSI".
    if state == TenantState.TRIAL and lm.existing_license is not None and lm.existing_license.active:
        raise DomainError(Code.TRIAL_CONFLICT)


def is_spla_image(image: str) -> bool:
    # Only LoadMasters installed from an image with "SPLA" in its file name can obtain a license.
    return "SPLA" in image.upper()


def image_is_spla(lm: LoadMaster) -> None:
    # "No Local license found.": metered licensing needs an SPLA image (section 7.2).
    if not is_spla_image(lm.image):
        raise DomainError(Code.NO_LOCAL_LICENSE)


def types_for_sku(types: list[LicenseType], sku: str) -> list[LicenseType]:
    # "No License configured for LM SKU <sku>.": no license type matches the LoadMaster's SKU.
    matching = [t for t in types if t.sku == sku]
    if not matching:
        raise DomainError(Code.NO_LICENSE_FOR_SKU, sku=sku)
    return matching


def license_type_fits(lic_type: LicenseType | None, lm: LoadMaster) -> LicenseType:
    # "Invalid License Type ID provided.": the id does not exist or is not of the LM's type.
    if lic_type is None or lic_type.sku != lm.sku:
        raise DomainError(Code.INVALID_LICENSE_TYPE)
    return lic_type
