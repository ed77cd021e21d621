"""Ed25519 signing of leases and device tokens as compact JWS (``alg: EdDSA``).

The private keys live in Secrets Manager (``SIGNING_KEY_SECRET_ID``) as JSON::

    {"active_kid": "k-2026-11", "keys": [{"kid": "k-2026-11", "d": "<base64url 32-byte seed>"}]}

They are read once per container. Every key in the secret is published in the JWKS, so a key can
be added (published), made active, and retired after the longest lease has run out. In the
``dev`` stage (``SIGNING_KEY_AUTOCREATE``) a missing secret is created with a fresh key.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from chalicelib.settings import get_settings

# Our device tokens and cursors are a few hundred characters; anything far longer is not one of
# them, and is refused before any decoding work.
MAX_TOKEN_LENGTH = 4096


class InvalidToken(Exception):
    """The token is malformed, forged, altered, expired or of another kind."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class KeyRing:
    active_kid: str
    private_keys: dict[str, Ed25519PrivateKey]

    @property
    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {kid: key.public_key() for kid, key in self.private_keys.items()}

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        header = {"alg": "EdDSA", "typ": typ, "kid": self.active_kid}
        signing_input = f"{_segment(header)}.{_segment(claims)}"
        signature = self.private_keys[self.active_kid].sign(signing_input.encode())
        return f"{signing_input}.{b64url(signature)}"

    def verify(self, token: str, typ: str) -> dict[str, Any]:
        """The claims of a token of kind ``typ`` signed by one of our keys; no time checks.

        The token comes from anyone (a device token, a paging cursor): whatever its shape, the
        answer is the claims or ``InvalidToken``, never another exception (that would be a 500).
        The header is read before the signature is checked, so it is parsed as hostile JSON."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidToken(f"not a compact token of at most {MAX_TOKEN_LENGTH} ASCII characters")
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not three segments")
        header_b64, claims_b64, signature_b64 = parts
        header = _json_segment(header_b64)
        kid, alg, header_typ = (header.get("kid"), header.get("alg"), header.get("typ"))
        # A kid of any other type (a list, an object) is no key of ours, and unhashable.
        key = self.public_keys.get(kid) if isinstance(kid, str) else None
        if key is None or alg != "EdDSA" or header_typ != typ:
            raise InvalidToken("unknown key, algorithm or token kind")
        try:
            key.verify(b64url_decode(signature_b64), f"{header_b64}.{claims_b64}".encode())
        except (ValueError, InvalidSignature) as e:
            raise InvalidToken("bad signature") from e
        # Signed by us, so well-formed; parsed as carefully all the same.
        return _json_segment(claims_b64)

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
                 "x": b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))}
                for kid, key in sorted(self.public_keys.items())
            ]
        }


def _json_segment(text: str) -> dict[str, Any]:
    """A base64url segment holding a JSON object, or ``InvalidToken``. Any failure counts: bad
    base64, bad UTF-8, bad JSON, JSON nested deep enough to exhaust the recursion limit, an
    integer longer than Python converts: the token is refused, whatever the reason."""
    try:
        value = json.loads(b64url_decode(text))
    except Exception as e:  # the boundary: every parsing failure is a bad token
        raise InvalidToken(f"segment is not base64url JSON ({e.__class__.__name__})") from e
    if not isinstance(value, dict):
        raise InvalidToken("segment is not a JSON object")
    return value


def _segment(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())


def new_secret_value(kid: str | None = None) -> str:
    """A secret holding one fresh key: what the first deployment stores (see docs)."""
    kid = kid or f"k{secrets.token_hex(4)}"
    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return json.dumps({"active_kid": kid, "keys": [{"kid": kid, "d": b64url(seed)}]})


def parse_secret(value: str) -> KeyRing:
    doc = json.loads(value)
    keys = {k["kid"]: Ed25519PrivateKey.from_private_bytes(b64url_decode(k["d"])) for k in doc["keys"]}
    if doc["active_kid"] not in keys:
        raise ValueError("active_kid is not one of the keys")
    return KeyRing(doc["active_kid"], keys)


_lock = threading.Lock()
_ring: KeyRing | None = None


def key_ring() -> KeyRing:
    """The container's key ring, read from Secrets Manager on first use."""
    global _ring
    if _ring is None:
        with _lock:
            if _ring is None:
                _ring = parse_secret(_load_secret())
    return _ring


def reset_key_ring() -> None:
    """Forget the cached keys (a test that rotates the secret; a container never needs it)."""
    global _ring
    _ring = None


def _load_secret() -> str:
    import boto3  # the first use pays for the client, not the cold start

    settings = get_settings()
    client = boto3.client("secretsmanager", region_name=settings.region, endpoint_url=settings.aws_endpoint_url)
    try:
        return client.get_secret_value(SecretId=settings.signing_key_secret_id)["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        if not settings.signing_key_autocreate:
            raise
    value = new_secret_value()
    try:
        client.create_secret(Name=settings.signing_key_secret_id, SecretString=value)
    except client.exceptions.ResourceExistsException:
        # Another container created it first: use theirs so every lease verifies.
        return client.get_secret_value(SecretId=settings.signing_key_secret_id)["SecretString"]
    return value
