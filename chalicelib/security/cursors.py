"""Paging cursors: opaque, bound to the caller's scope (its tenant and listing), and signed with
HMAC-SHA256 under a key of their own, not the lease-signing key, so rotating the lease key leaves
every cursor valid.

The cursor key lives in the signing-key secret (``SIGNING_KEY_SECRET_ID``) beside the lease keys,
as the field ``cursor_key`` (base64url, 32 random bytes)::

    {"active_kid": "...", "keys": [...], "cursor_key": "<base64url>"}

It is read once per container, at the first cursor. When the field is missing (a new
deployment) the first container that needs it adds it to the secret; a lease-key rotation edits
``keys`` and ``active_kid`` and keeps it. Replacing the whole document without it makes a new
cursor key: cursors issued before are refused (400), and the client starts its listing again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from typing import Any

from chalicelib.security.signing import key_ring
from chalicelib.settings import get_settings
from chalicelib.store.failures import aws_call

CURSOR_KEY_FIELD = "cursor_key"
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


_lock = threading.Lock()
_key: bytes | None = None


def cursor_key() -> bytes:
    """The container's cursor key, read from the signing-key secret on first use (added to it
    when missing)."""
    global _key
    if _key is None:
        with _lock:
            if _key is None:
                with aws_call():
                    _key = _load_cursor_key()
    return _key


def reset_cursor_key() -> None:
    """Forget the cached key (``configure``; a test that rotates the secret)."""
    global _key
    _key = None


def _load_cursor_key() -> bytes:
    import boto3  # the first cursor pays for the client, not the cold start

    key_ring()  # the secret exists from here on (the dev stage creates it on first use)
    settings = get_settings()
    client = boto3.client("secretsmanager", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    document = json.loads(client.get_secret_value(SecretId=settings.signing_key_secret_id)["SecretString"])
    if not document.get(CURSOR_KEY_FIELD):
        document[CURSOR_KEY_FIELD] = _b64url(secrets.token_bytes(32))
        client.put_secret_value(SecretId=settings.signing_key_secret_id, SecretString=json.dumps(document))
        # Two containers adding one at once: the one stored last is everyone's from now on (a
        # cursor the other issued in that instant is refused once; its client starts again).
        document = json.loads(client.get_secret_value(SecretId=settings.signing_key_secret_id)["SecretString"])
    value = document[CURSOR_KEY_FIELD]
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
