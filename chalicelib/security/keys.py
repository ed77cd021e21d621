"""Tenant keys: random, shown once, stored as SHA-256. A key names its tenant so that
authenticating it is one read by primary key, never a scan or an index lookup.

Format: ``lk_<kind>.<tenant_id>.<secret>`` with a 192-bit secret. SHA-256 (not a slow hash) is
enough because the secret has full entropy: there is no dictionary to try.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum


class KeyKind(StrEnum):
    API = "api"
    ACTIVATION = "act"


@dataclass(frozen=True)
class IssuedKey:
    plaintext: str
    sha256: str


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issue_key(kind: KeyKind, tenant_id: str) -> IssuedKey:
    plaintext = f"lk_{kind}.{tenant_id}.{secrets.token_urlsafe(24)}"
    return IssuedKey(plaintext, sha256_hex(plaintext))


def tenant_of(value: str, kind: KeyKind) -> str | None:
    """The tenant a well-formed key of ``kind`` names, or None."""
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != f"lk_{kind}" or not parts[1] or len(parts[2]) < 16:
        return None
    return parts[1]


def matches(value: str, stored_sha256: str) -> bool:
    """Constant-time comparison: the time taken says nothing about how much of a key matched."""
    return bool(stored_sha256) and hmac.compare_digest(sha256_hex(value), stored_sha256)
