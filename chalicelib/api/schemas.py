"""Request and response models of the HTTP contract (``*Request`` / ``*Response``). The handlers
parse with them and answer with them; the OpenAPI document is generated from them."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasPath,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    PlainSerializer,
    model_validator,
)
from pydantic_core import core_schema

from chalicelib.domain.errors import message_for
from chalicelib.domain.licensing import ExistingLicense, LoadMaster
from chalicelib.domain.model import DeviceStatus, Event, OveragePolicy, TenantState

_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")
_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$"


def _normalise_mac(value: str) -> str:
    value = value.strip().lower()
    if not _MAC.match(value):
        raise ValueError("not a MAC address")
    digits = re.sub(r"[^0-9a-f]", "", value)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _normalise_ip(value: str) -> str:
    """One spelling per host, so that one address is one claim (invariant 2): an IPv4-mapped
    IPv6 address is its IPv4 address, and IPv6 is compressed. A zone id (``fe80::1%eth0``) names
    an interface of the sender, not a host: refused."""
    value = value.strip()
    if "%" in value:
        raise ValueError("an IP address without a zone id")
    try:
        address = ipaddress.ip_address(value)
    except ValueError as e:
        raise ValueError("not an IP address") from e
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.compressed


Mac = Annotated[
    str, Field(min_length=12, max_length=17, examples=["00:50:56:aa:bb:cc"]), AfterValidator(_normalise_mac)
]
Ip = Annotated[str, Field(max_length=45, examples=["10.0.0.5"]), AfterValidator(_normalise_ip)]
Port = Annotated[int, Field(ge=1, le=65535)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$", examples=["VLM-MAX-SPLA"])]
Email = Annotated[str, Field(max_length=320, pattern=_EMAIL)]
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda v: v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), return_type=str, when_used="json"),
]


def _inline(enum: type[StrEnum]) -> GetPydanticSchema:
    """The domain's enum, validated as the ``Literal`` of its values: an inline enum in the JSON
    schema and in the error messages, as the contract spells it, from the one definition."""
    values = Literal[tuple(member.value for member in enum)]  # type: ignore[valid-type]  # built from the enum at runtime
    return GetPydanticSchema(lambda _type, handler: core_schema.no_info_after_validator_function(enum, handler(values)))


DeviceStatusValue = Annotated[DeviceStatus, _inline(DeviceStatus)]
TenantStateValue = Annotated[TenantState, _inline(TenantState)]


class _Model(BaseModel):
    """Every model of the contract. Built when first used, not at import (``defer_build``; issue
    14, cold start): a container builds only the models of the requests it serves, and the
    scheduled functions, which import the same app, build none. pydantic rebuilds under a lock
    (chalice local serves on threads)."""

    model_config = ConfigDict(defer_build=True)


class _Strict(_Model):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# LoadMaster requests ---------------------------------------------------------------------------


class ExistingLicenseModel(_Model):
    issuer: Annotated[str, Field(max_length=255)] = ""
    active: bool


class LoadMasterRequest(_Model):
    # Unknown fields are ignored: a newer LoadMaster firmware may say more than we ask.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    mac: Mac
    ip: Ip
    port: Port
    sku: Sku
    image: Annotated[str, Field(min_length=1, max_length=255)]
    version: Annotated[str, Field(min_length=1, max_length=64)]
    existing_license: ExistingLicenseModel | None = None

    def loadmaster(self) -> LoadMaster:
        existing = None
        if self.existing_license is not None:
            existing = ExistingLicense(self.existing_license.issuer, self.existing_license.active)
        return LoadMaster(self.mac, self.ip, self.port, self.sku, self.image, self.version, existing)


class ActivationRequest(LoadMasterRequest):
    lic_type_id: Annotated[str, Field(min_length=1, max_length=64)]


class CheckInRequest(_Model):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    mac: Mac
    ip: Ip
    port: Port
    version: Annotated[str, Field(min_length=1, max_length=64)]


# Tenant admin requests -------------------------------------------------------------------------


Capacity = Annotated[int, Field(ge=0, le=10_000_000)]
Seconds = Annotated[int, Field(ge=60, le=90 * 86400)]


class LicenseTypeCreateRequest(_Strict):
    name: Name
    sku: Sku
    capacity: Capacity
    overage_policy: OveragePolicy | None = None


class LicenseTypeUpdateRequest(_Strict):
    name: Name | None = None
    capacity: Capacity | None = None
    overage_policy: OveragePolicy | None = None


class DeviceQuery(_Strict):
    status: DeviceStatusValue | None = None
    lic_type_id: Annotated[str, Field(max_length=64)] | None = None
    mac: Mac | None = None
    ip: Ip | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    next: Annotated[str, Field(max_length=4096)] | None = None


class EventQuery(_Strict):
    device_id: Annotated[str, Field(max_length=64)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    next: Annotated[str, Field(max_length=4096)] | None = None


class SettingsUpdateRequest(_Strict):
    confirm_window_s: Seconds | None = None
    check_in_interval_s: Seconds | None = None
    silent_after_s: Seconds | None = None
    lease_s: Seconds | None = None


class ReplaceRequest(_Strict):
    mac: Mac
    ip: Ip
    port: Port


class KeyRotateRequest(_Strict):
    kind: Literal["api", "activation"]


class UsageQuery(_Strict):
    month: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])]


# Operator requests -----------------------------------------------------------------------------


class TenantCreateRequest(_Strict):
    name: Name
    owner_email: Email


class TrialRequest(_Strict):
    days: Annotated[int, Field(ge=1, le=365)] = 30
    instances: Annotated[int, Field(ge=1, le=1000)] = 5
    skus: Annotated[list[Sku], Field(min_length=1, max_length=20)] = ["VLM-MAX-SPLA"]


class ContractRequest(_Strict):
    contract_id: Annotated[str, Field(min_length=1, max_length=128)]
    capacity: Annotated[int, Field(ge=1, le=10_000_000)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None


class OwnerRequest(_Strict):
    owner_email: Email


class PageQuery(_Strict):
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    next: Annotated[str, Field(max_length=4096)] | None = None


# Responses -------------------------------------------------------------------------------------


class _FromDomain(_Model):
    """A response read from the domain object's attributes (``model_validate(obj)``)."""

    model_config = ConfigDict(from_attributes=True)


class LicenseTypeResponse(_FromDomain):
    lic_type_id: str
    name: str
    sku: str
    capacity: int
    in_use: int
    available: int
    overage: int = Field(description="Instances in use beyond capacity (granted by the overage policy).")
    overage_policy: OveragePolicy
    trial: bool


class LicenseTypesResponse(_FromDomain):
    license_types: list[LicenseTypeResponse]


class DeviceResponse(_FromDomain):
    device_id: str
    status: DeviceStatusValue
    mac: str
    ip: str
    port: int
    sku: str
    image: str
    version: str
    lic_type_id: str
    activated_at: Timestamp
    confirm_by: Timestamp
    confirmed_at: Timestamp | None
    last_check_in_at: Timestamp | None
    deactivated_at: Timestamp | None
    reason: str | None


class DevicesResponse(_Model):
    devices: list[DeviceResponse]
    next: str | None


class EventResponse(_FromDomain):
    event_id: str
    at: Timestamp
    kind: str
    device_id: str | None
    code: str | None
    message: str | None = Field(description="For a refusal, the error's message (the seed's text).")
    detail: dict

    @model_validator(mode="before")
    @classmethod
    def _message(cls, value: Any) -> Any:
        # The catalogue's text, filled in from the detail: said, not stored.
        if isinstance(value, Event):
            return {**value.__dict__, "message": message_for(value.code, value.detail)}
        return value


class EventsResponse(_Model):
    events: list[EventResponse]
    next: str | None


class DeviceDetailResponse(DeviceResponse):
    history: list[EventResponse] = Field(description="The device's latest events, newest first.")


class SettingsResponse(_FromDomain):
    confirm_window_s: int
    check_in_interval_s: int
    silent_after_s: int
    lease_s: int


class KeyRotatedResponse(_Model):
    kind: Literal["api", "activation"]
    key: str = Field(description="The new key, shown this once; the old one no longer works.")


class LicenseTypeUsageResponse(_FromDomain):
    lic_type_id: str
    name: str
    sku: str
    instance_hours: int
    peak_instances: int
    capacity: int
    overage_hours: int


class HourResponse(_FromDomain):
    hour: Timestamp
    lic_type_id: str
    in_use: int
    capacity: int


class UsageResponse(_FromDomain):
    month: str
    license_types: list[LicenseTypeUsageResponse]
    hours: list[HourResponse]


class TenantUsageResponse(_FromDomain):
    tenant_id: str
    name: str = Field(validation_alias="tenant_name")
    license_types: list[LicenseTypeUsageResponse]


class OperatorUsageResponse(_Model):
    month: str
    tenants: list[TenantUsageResponse]


class ReplacedResponse(DeviceResponse):
    device_token: str = Field(description="The successor LoadMaster's token; the old one no longer works.")
    license: str
    lease_expires_at: Timestamp


# Read from an activation: its device, its token and its lease (a docstring would change the
# OpenAPI document).
class ActivationResponse(_FromDomain):
    device_id: str = Field(validation_alias=AliasPath("device", "device_id"))
    status: str = Field(validation_alias=AliasPath("device", "status"))
    device_token: str
    confirm_by: Timestamp = Field(validation_alias=AliasPath("device", "confirm_by"))
    license: str = Field(validation_alias=AliasPath("lease", "token"))
    lease_expires_at: Timestamp = Field(validation_alias=AliasPath("lease", "expires_at"))


# Read from a check-in: the device's status, the fresh lease and token.
class CheckInResponse(_FromDomain):
    status: str = Field(validation_alias=AliasPath("device", "status"))
    license: str = Field(validation_alias=AliasPath("lease", "token"))
    lease_expires_at: Timestamp = Field(validation_alias=AliasPath("lease", "expires_at"))
    next_check_in_after: Timestamp
    device_token: str = Field(description="A fresh device token: use it from now on (keys rotate).")


class ContractResponse(_FromDomain):
    contract_id: str
    capacity: int
    starts_at: Timestamp
    ends_at: Timestamp | None


class LicenseStateResponse(_FromDomain):
    state: TenantStateValue
    trial_expires_at: Timestamp | None
    contract_id: str | None
    contract_starts_at: Timestamp | None = None
    contract_ends_at: Timestamp | None
    capacity: int
    in_use: int
    allocated: int = Field(
        0, description="The license types' capacities together (never above capacity under a contract)."
    )
    next_contract: ContractResponse | None = Field(None, description="A contract sold to start later.")


class TenantResponse(LicenseStateResponse):
    tenant_id: str
    name: str
    owner_email: str
    created_at: Timestamp


class TenantCreatedResponse(TenantResponse):
    api_key: str
    activation_key: str


class TenantsResponse(_Model):
    tenants: list[TenantResponse]
    next: str | None


class TerminatedResponse(TenantResponse):
    devices_deactivated: int


class DeletedResponse(_Model):
    deleted: str


class Jwk(_Model):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    alg: Literal["EdDSA"]
    use: Literal["sig"]
    kid: str
    x: str


class JwksResponse(_Model):
    keys: list[Jwk]


class ErrorBody(_Model):
    code: str
    message: str
    detail: dict


class ErrorResponse(_Model):
    error: ErrorBody


class HealthResponse(_Model):
    status: Literal["ok", "degraded"]
    version: str
    stage: str
    checks: dict[str, str]


# Accounts (people) ---------------------------------------------------------------------------

Password = Annotated[str, Field(min_length=1, max_length=256)]
VerificationCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:_-]+$")]
Token = Annotated[str, Field(min_length=1, max_length=8192)]
AssignableRole = Literal["admin", "viewer"]


class RegisterRequest(_Strict):
    email: Email
    password: Password
    name: Name


class ConfirmRequest(_Strict):
    email: Email
    code: VerificationCode


class SignInRequest(_Strict):
    email: Email
    password: Password


class RefreshRequest(_Strict):
    refresh_token: Token


class PasswordResetRequest(_Strict):
    email: Email


class PasswordResetConfirmRequest(_Strict):
    email: Email
    code: VerificationCode
    password: Password


class AccountUpdateRequest(_Strict):
    name: Name | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _something(self) -> AccountUpdateRequest:
        if self.name is None and self.email is None:
            raise ValueError("name or email is required")
        return self


class EmailConfirmRequest(_Strict):
    code: VerificationCode


class AccountTenantRequest(_Strict):
    name: Name


class InviteRequest(_Strict):
    email: Email
    role: AssignableRole


class RoleRequest(_Strict):
    role: AssignableRole


class OwnershipRequest(_Strict):
    account_id: Annotated[str, Field(min_length=1, max_length=128)]


class AcceptedResponse(_Model):
    status: Literal["accepted"] = "accepted"
    message: str


class SessionResponse(_Model):
    access_token: str
    refresh_token: str | None = None
    expires_in: int
    token_type: Literal["Bearer"] = "Bearer"


class AccountTenantResponse(_FromDomain):
    tenant_id: str
    name: str = Field(validation_alias="tenant_name")
    role: Literal["owner", "admin", "viewer"]


class AccountResponse(_Model):
    account_id: str
    email: str
    name: str
    email_verified: bool
    pending_email: str | None = Field(None, description="An email change waiting for its code.")
    tenants: list[AccountTenantResponse]


class MemberResponse(_FromDomain):
    account_id: str | None
    email: str
    role: Literal["owner", "admin", "viewer"]
    status: Literal["member", "invited"] = "member"


class MembersResponse(_Model):
    members: list[MemberResponse]


class TrialStartedResponse(TenantResponse):
    pass


class PasswordRuleResponse(_Model):
    name: Literal["minimum_length", "require_lowercase", "require_uppercase", "require_numbers", "require_symbols"]
    text: str = Field(description="The requirement in words, as the console lists it.")


class PasswordPolicyResponse(_Model):
    """The user pool's password policy. A refused password is 400 VALIDATION_ERROR whose detail has
    ``fields.password`` (what it lacks), ``broken`` (the rules' names) and this policy."""

    minimum_length: int
    require_lowercase: bool
    require_uppercase: bool
    require_numbers: bool
    require_symbols: bool
    symbols: str = Field(description="The characters that count as symbols.")
    description: str = Field(description="The whole policy in one phrase.")
    rules: list[PasswordRuleResponse] = Field(description="The requirements a password must meet, each by name.")


class InvitationQuery(_Strict):
    email: Email
