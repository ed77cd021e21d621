"""Paging cursors: opaque, bound to the caller's scope (its tenant and listing), and signed with
HMAC-SHA256 under a key of their own, not the lease-signing key, so rotating the lease key leaves
every cursor valid.

The cursor key is a secret of its own (``CURSOR_KEY_SECRET_ID``): any string of at least 32
characters, of which the key is the SHA-256. The stack generates it (64 random characters) and
only reads it; the dev stage (``SIGNING_KEY_AUTOCREATE``) creates it on first use. A container
reads it at its first cursor and again every ``SIGNING_KEY_TTL_S``. Replacing it makes every
cursor issued before refused (400), and the client starts its listing again.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import secrets
from typing import Any

from chalicelib.security.refreshed import Refreshed
from chalicelib.settings import get_settings
from chalicelib.store import aws
from chalicelib.store.failures import aws_call

MIN_SECRET_LENGTH = 32
# A cursor is a DynamoDB key (a few ids) and a scope: far shorter than this.
MAX_CURSOR_LENGTH = 4096


class InvalidCursor(Exception):
    """Not a cursor of this service and scope: malformed, forged, altered, or another listing's."""


def encode(key: dict[str, Any], scope: str) -> str:
    """The cursor that resumes a listing of ``scope`` after ``key``."""
    payload = _b64url(json.dumps({"k": key, "s": scope}, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64url(_mac(payload))}"


def decode(cursor: str, scope: str) -> dict[str, Any]:
    """The key a cursor of ``scope`` resumes after, or ``InvalidCursor``: whatever the text,
    never another exception (a cursor comes from anyone)."""
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise InvalidCursor("not a cursor")
    payload, _, signature = cursor.partition(".")
    try:
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (binascii.Error, ValueError) as e:
        raise InvalidCursor("bad signature encoding") from e
    if not hmac.compare_digest(given, _mac(payload)):
        raise InvalidCursor("bad signature")
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except Exception as e:  # signed by us, so well-formed; parsed carefully all the same
        raise InvalidCursor("bad payload") from e
    if not isinstance(claims, dict) or claims.get("s") != scope or not isinstance(claims.get("k"), dict):
        raise InvalidCursor("a cursor of another listing")
    return claims["k"]


def _mac(payload: str) -> bytes:
    return hmac.new(cursor_key(), payload.encode(), hashlib.sha256).digest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_key: Refreshed[bytes] | None = None


def cursor_key() -> bytes:
    """The container's cursor key, read from its secret on first use, at most ``SIGNING_KEY_TTL_S`` old."""
    global _key
    if _key is None:
        _key = Refreshed("cursor key", _load_cursor_key, get_settings().signing_key_ttl_s)
    with aws_call():
        return _key.get()


def reset_cursor_key() -> None:
    """Forget the cached key (``configure``: its settings may name another secret or TTL)."""
    global _key
    _key = None


def _load_cursor_key() -> bytes:
    settings = get_settings()
    client = aws.client("secretsmanager")
    try:
        value = client.get_secret_value(SecretId=settings.cursor_key_secret_id)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        if not settings.signing_key_autocreate:
            raise
        # Another container may create it first: everyone uses the one stored.
        with contextlib.suppress(client.exceptions.ResourceExistsException):
            client.create_secret(Name=settings.cursor_key_secret_id, SecretString=secrets.token_urlsafe(48))
        value = client.get_secret_value(SecretId=settings.cursor_key_secret_id)["SecretString"]
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"the cursor key secret holds {len(value)} characters; it needs {MIN_SECRET_LENGTH}")
    return hashlib.sha256(value.encode()).digest()
