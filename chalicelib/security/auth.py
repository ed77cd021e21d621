"""Who is calling: one function per role of the contract, each taking the request's headers.

A missing or malformed credential is 401; a valid credential of another role is 403. A
LoadMaster credential that fails verification is the seed's "Can't verify check.".
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.accounts import Membership, Principal, Role, may
from chalicelib.domain.errors import Code, DomainError, validation
from chalicelib.domain.model import Tenant
from chalicelib.observability import log_keys
from chalicelib.security import access_tokens
from chalicelib.security.keys import KeyKind, matches, sha256_hex, tenant_of
from chalicelib.security.signing import InvalidToken
from chalicelib.security.tokens import DeviceCredential, verify_device_token
from chalicelib.settings import get_settings
from chalicelib.store import identity, members
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


# Accounts (people): a Cognito access token as the Bearer credential ------------------------------


@dataclass(frozen=True)
class Member:
    """An account acting in one of its tenants: the tenant, and its membership there."""

    tenant: Tenant
    membership: Membership
    principal: Principal


def _accounts_on() -> None:
    if not identity.enabled():
        # No user pool configured: for this deployment the account routes do not exist.
        raise DomainError(Code.NOT_FOUND, "Accounts are not enabled on this service.")


def _principal(token: str) -> Principal:
    _accounts_on()
    try:
        principal = access_tokens.verify(token)
    except access_tokens.InvalidAccessToken as e:
        raise DomainError(Code.UNAUTHORIZED, "Invalid credentials.") from e
    log_keys(account_id=principal.account_id)
    return principal


def account(headers: Mapping[str, str]) -> Principal:
    """An account by its access token, whatever its tenants."""
    token = _credential(headers, "Bearer")
    if token is None:
        raise DomainError(Code.UNAUTHORIZED)
    if not access_tokens.looks_like_jwt(token):
        if _is_operator_key(token) or _tenant_named_by(token, KeyKind.API):
            raise DomainError(Code.FORBIDDEN, "An account's access token is required.")
        raise DomainError(Code.UNAUTHORIZED, "Invalid credentials.")
    return _principal(token)


def _named_tenant(headers: Mapping[str, str]) -> str | None:
    value = (headers.get("x-tenant-id") or "").strip()
    if not value:
        return None
    if len(value) > MAX_TENANT_ID_LENGTH or not _printable_ascii(value):
        raise DomainError(Code.FORBIDDEN, "The account is not a member of this tenant.")
    return value


def member(headers: Mapping[str, str]) -> Member:
    """An account in the tenant ``X-Tenant-Id`` names, or in its only tenant. Not a member (or no
    such tenant: the same answer) is 403; several tenants and no header is 400."""
    principal = account(headers)
    named = _named_tenant(headers)
    if named is not None:
        found = members.membership(principal.account_id, named)
        if found is None:
            raise DomainError(Code.FORBIDDEN, "The account is not a member of this tenant.")
    else:
        memberships = members.memberships_of(principal.account_id)
        if not memberships:
            raise DomainError(Code.FORBIDDEN, "The account is not a member of any tenant.")
        if len(memberships) > 1:
            raise validation(
                "The account belongs to several tenants: name one with X-Tenant-Id.",
                {"X-Tenant-Id": "required when the account belongs to several tenants"},
            )
        found = memberships[0]
    tenant = get_tenant(found.tenant_id)
    if tenant is None:
        raise DomainError(Code.FORBIDDEN, "The account is not a member of this tenant.")
    log_keys(tenant_id=tenant.tenant_id)
    return Member(tenant, found, principal)


def tenant_for(headers: Mapping[str, str], method: str) -> Tenant:
    """The tenant administrator: the tenant API key, or an account's access token with its role
    in the tenant (``viewer`` reads only)."""
    token = _credential(headers, "Bearer")
    if token is not None and access_tokens.looks_like_jwt(token):
        found = member(headers)
        if not may(found.membership.role, method):
            raise DomainError(Code.FORBIDDEN, "A viewer may only read.")
        return found.tenant
    return tenant_admin(headers)


def tenant_for_or_operator(headers: Mapping[str, str], method: str) -> Tenant | None:
    key = _credential(headers, "Bearer")
    if key is not None and _is_operator_key(key):
        return None
    return tenant_for(headers, method)


def manager(headers: Mapping[str, str]) -> Tenant:
    """The owner or an admin (or the tenant API key): who may see the members."""
    return tenant_for(headers, "POST")


def owner(headers: Mapping[str, str]) -> Member:
    """The tenant's owner, by its access token (the API key is no person, and owns nothing)."""
    token = _credential(headers, "Bearer")
    if token is not None and not access_tokens.looks_like_jwt(token) and _tenant_named_by(token, KeyKind.API):
        raise DomainError(Code.FORBIDDEN, "Only the tenant's owner, signed in, may do that.")
    found = member(headers)
    if found.membership.role != Role.OWNER:
        raise DomainError(Code.FORBIDDEN, "Only the tenant's owner may do that.")
    return found
