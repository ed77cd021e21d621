"""The error catalogue: the seed's licensing errors (installation guide 7.1 and 7.2) and the
service's own. Domain errors know nothing of HTTP; ``chalicelib.api.errors`` maps each code to
its status."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Code(StrEnum):
    # The seed's table, exact texts: LoadMaster administrators search for them.
    INVALID_INITIALIZATION = "INVALID_INITIALIZATION"
    TRIAL_EXPIRED = "TRIAL_EXPIRED"
    VERIFY_FAILED = "VERIFY_FAILED"
    DEVICE_BLOCKED = "DEVICE_BLOCKED"
    UNKNOWN_DEVICE = "UNKNOWN_DEVICE"
    TRIAL_CONFLICT = "TRIAL_CONFLICT"
    DUPLICATE_ADDRESS = "DUPLICATE_ADDRESS"
    UUID_GENERATION_FAILED = "UUID_GENERATION_FAILED"
    CENTRAL_UNLICENSED = "CENTRAL_UNLICENSED"
    INSTANCE_LIMIT_REACHED = "INSTANCE_LIMIT_REACHED"
    INVALID_LICENSE_TYPE = "INVALID_LICENSE_TYPE"
    NO_LOCAL_LICENSE = "NO_LOCAL_LICENSE"
    NO_LICENSE_FOR_SKU = "NO_LICENSE_FOR_SKU"
    # The service's own.
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    CONFLICT = "CONFLICT"
    DEVICE_DEACTIVATED = "DEVICE_DEACTIVATED"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL = "INTERNAL"
    UNAVAILABLE = "UNAVAILABLE"


MESSAGES: dict[Code, str] = {
    Code.INVALID_INITIALIZATION: "Invalid local license initialization.",
    Code.TRIAL_EXPIRED: "Trial has Expired.",
    Code.VERIFY_FAILED: "Can't verify check.",
    Code.DEVICE_BLOCKED: "This LoadMaster cannot be licensed against this Kemp 360 Central at this time.",
    Code.UNKNOWN_DEVICE: (
        "LM not added in the system because Kemp Analytics or update license is called from LM UP with MAC {mac}."
    ),
    Code.TRIAL_CONFLICT: (
        "Not issuing license to LM because Kemp 360 Central has trial license and LM has "
        "active license from another Central/ALSI"
    ),
    Code.DUPLICATE_ADDRESS: "Device with same IP Address already exist.",
    Code.UUID_GENERATION_FAILED: "Unable to generate license UUID",
    Code.CENTRAL_UNLICENSED: "Kemp 360 is unlicensed.",
    Code.INSTANCE_LIMIT_REACHED: "Local license instance limit reached.",
    Code.INVALID_LICENSE_TYPE: "Invalid License Type ID provided.",
    Code.NO_LOCAL_LICENSE: "No Local license found.",
    Code.NO_LICENSE_FOR_SKU: "No License configured for LM SKU {sku}.",
    Code.UNAUTHORIZED: "Missing or malformed credentials.",
    Code.FORBIDDEN: "This credential may not do that.",
    Code.NOT_FOUND: "Not found.",
    Code.METHOD_NOT_ALLOWED: "This method is not allowed on this path.",
    Code.VALIDATION_ERROR: "The request is not valid.",
    Code.CONFLICT: "The request conflicts with the current state.",
    Code.DEVICE_DEACTIVATED: "This LoadMaster's license has been deactivated.",
    Code.RATE_LIMITED: "Too many requests; retry later.",
    Code.INTERNAL: "Internal error.",
    Code.UNAVAILABLE: "The service is temporarily unavailable; retry later.",
}


def message_for(code: str | None, detail: dict[str, Any]) -> str | None:
    """The catalogue's text for a code recorded in the debug log, filled in from its detail."""
    if code is None or code not in Code.__members__:
        return None
    return MESSAGES[Code(code)].format_map(_Missing({k: str(v) for k, v in detail.items()}))


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


class DomainError(Exception):
    """A refusal with a stable code. ``message`` overrides the catalogue text only for the
    service's own codes; the seed's texts are always the catalogue's, filled in."""

    def __init__(
        self, code: Code, message: str | None = None, *, detail: dict[str, Any] | None = None, **fill: str
    ) -> None:
        self.code = code
        self.message = message or MESSAGES[code].format(**fill)
        self.detail = detail or {}
        super().__init__(f"{code}: {self.message}")


def not_found(what: str) -> DomainError:
    return DomainError(Code.NOT_FOUND, f"{what} not found.")


def conflict(message: str, **detail: Any) -> DomainError:
    return DomainError(Code.CONFLICT, message, detail=detail)


def validation(message: str, fields: dict[str, str]) -> DomainError:
    return DomainError(Code.VALIDATION_ERROR, message, detail={"fields": fields})
