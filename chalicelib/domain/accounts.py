"""People's accounts (the seed's Kemp ID) and their place in tenants. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# Seed, section 2, step 5: "If you do not activate the account within 24 hours of registering,
# the record is deleted and you must register again."
CONFIRM_WITHIN = timedelta(hours=24)


class Role(StrEnum):
    OWNER = "owner"  # manages the tenant, its members and its ownership; exactly one per tenant
    ADMIN = "admin"  # manages the tenant
    VIEWER = "viewer"  # reads only


MANAGERS = (Role.OWNER, Role.ADMIN)


def normalise_email(email: str) -> str:
    """One spelling per mailbox for our keys: Cognito matches emails without regard to case."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    """What a claim keyed by an email stores instead of the address."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str | None
    expires_in: int
    id_token: str | None = None


@dataclass(frozen=True)
class Account:
    """An account as Cognito knows it: ``account_id`` is its ``sub``."""

    account_id: str
    email: str
    name: str
    confirmed: bool = True
    email_verified: bool = True
    created_at: datetime | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Principal:
    """The caller an access token names (verified: signature, issuer, client, use, expiry)."""

    account_id: str
    access_token: str


@dataclass(frozen=True)
class Membership:
    tenant_id: str
    account_id: str
    email: str
    role: Role
    tenant_name: str = ""


@dataclass(frozen=True)
class Invitation:
    tenant_id: str
    email: str
    role: Role
    tenant_name: str = ""


def may(role: Role, method: str) -> bool:
    """A viewer reads only; owners and admins manage the tenant."""
    return role in MANAGERS or method.upper() in ("GET", "HEAD", "OPTIONS")
