"""Who is calling: one function per role of the contract, each taking the request's headers.

A missing or malformed credential is 401; a valid credential of another role is 403. A
LoadMaster credential that fails verification is the seed's "Can't verify check.".
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from chalicelib.domain.errors import Code, DomainError
from chalicelib.domain.model import Tenant
from chalicelib.observability import log_keys
from chalicelib.security.keys import KeyKind, matches, sha256_hex, tenant_of
from chalicelib.security.signing import InvalidToken
from chalicelib.security.tokens import DeviceCredential, verify_device_token
from chalicelib.settings import get_settings
from chalicelib.store.tenants import get_tenant

MAX_CREDENTIAL_LENGTH = 4096


def _credential(headers: Mapping[str, str], scheme: str) -> str | None:
    """The credential of an ``Authorization: <scheme> <credential>`` header, or None. The scheme
    is matched case-insensitively (RFC 9110, 11.1). Our keys and tokens are printable ASCII: any
    other value is no credential of ours, and is not hashed or looked up."""
    value = headers.get("authorization") or ""
    if len(value) > MAX_CREDENTIAL_LENGTH:
        return None
    given_scheme, _, credential = value.partition(" ")
    credential = credential.strip()
    if given_scheme.lower() != scheme.lower() or not _printable_ascii(credential):
        return None
    return credential


def _printable_ascii(value: str) -> bool:
    return bool(value) and value.isascii() and value.isprintable() and " " not in value


# A key names its tenant; a tenant id of ours is short. A longer one is no key of ours, and is not
# looked up (DynamoDB refuses a key over 2,048 bytes with an error, not with "no such item").
MAX_TENANT_ID_LENGTH = 64


def _tenant_named_by(key: str, kind: KeyKind) -> str | None:
    tenant_id = tenant_of(key, kind)
    return tenant_id if tenant_id is not None and len(tenant_id) <= MAX_TENANT_ID_LENGTH else None


def _is_operator_key(value: str) -> bool:
    expected = get_settings().operator_key_sha256
    return bool(expected) and hmac.compare_digest(sha256_hex(value), expected)


def operator(headers: Mapping[str, str]) -> None:
    key = _credential(headers, "Bearer")
    if key is None:
        raise DomainError(Code.UNAUTHORIZED)
    if _is_operator_key(key):
        return
    if _tenant_named_by(key, KeyKind.API):
        raise DomainError(Code.FORBIDDEN, "Operator credentials are required.")
    raise DomainError(Code.UNAUTHORIZED, "Invalid credentials.")


def tenant_admin(headers: Mapping[str, str]) -> Tenant:
    key = _credential(headers, "Bearer")
    if key is None:
        raise DomainError(Code.UNAUTHORIZED)
    tenant_id = _tenant_named_by(key, KeyKind.API)
    if tenant_id is None:
        if _is_operator_key(key):
            raise DomainError(Code.FORBIDDEN, "A tenant API key is required.")
        raise DomainError(Code.UNAUTHORIZED, "Invalid credentials.")
    tenant = get_tenant(tenant_id)
    if tenant is None or not matches(key, tenant.api_key_hash):
        raise DomainError(Code.UNAUTHORIZED, "Invalid credentials.")
    log_keys(tenant_id=tenant.tenant_id)
    return tenant


def activation(headers: Mapping[str, str]) -> Tenant:
    key = (headers.get("x-activation-key") or "").strip()
    well_formed = len(key) <= MAX_CREDENTIAL_LENGTH and _printable_ascii(key)
    tenant_id = _tenant_named_by(key, KeyKind.ACTIVATION) if well_formed else None
    tenant = get_tenant(tenant_id) if tenant_id else None
    if tenant is None or not matches(key, tenant.activation_key_hash):
        raise DomainError(Code.VERIFY_FAILED)
    log_keys(tenant_id=tenant.tenant_id)
    return tenant


def device(headers: Mapping[str, str], device_id: str) -> DeviceCredential:
    """The device token's claims, checked without a read: the credential version is checked by
    the condition of the write that follows."""
    token = _credential(headers, "Device")
    if token is None:
        raise DomainError(Code.VERIFY_FAILED)
    try:
        credential = verify_device_token(token)
    except InvalidToken as e:
        raise DomainError(Code.VERIFY_FAILED) from e
    if credential.device_id != device_id:
        raise DomainError(Code.VERIFY_FAILED)
    log_keys(tenant_id=credential.tenant_id, device_id=device_id)
    return credential


def tenant_admin_or_operator(headers: Mapping[str, str]) -> Tenant | None:
    """For the paths both roles share (usage): the tenant, or None for the operator."""
    key = _credential(headers, "Bearer")
    if key is not None and _is_operator_key(key):
        return None
    return tenant_admin(headers)
