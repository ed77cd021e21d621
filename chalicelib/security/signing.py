"""Ed25519 signing of leases and device tokens as compact JWS (``alg: EdDSA``), through joserfc.

The private keys live in Secrets Manager (``SIGNING_KEY_SECRET_ID``) as JSON::

    {"active_kid": "k2",
     "keys": [{"kid": "k1", "d": "<base64url 32-byte seed>", "added_at": ..., "activated_at": ...,
               "replaced_at": ...},
              {"kid": "k2", "d": ..., "added_at": ..., "activated_at": ...},
              {"kid": "k3", "d": ..., "added_at": ...}],
     "retired": [{"kid": "k0", "x": "<base64url public key>", "retired_at": ...}]}

The active key signs. Every key of ``keys`` is published in the JWKS: the next one (``k3``)
before any container signs with it, the replaced one (``k1``) while leases it signed are valid.
A retired key has lost its private half and left the JWKS, but its public half still verifies
the device tokens it signed: they do not expire, and a LoadMaster may keep the one its
activation gave it. The times are the rotation's (``infra/rotate_key.py``, docs/DEPLOY.md); the
service ignores them, and the first format (``active_kid`` and ``keys`` of ``kid`` and ``d``)
still loads.

A container reads the secret again once it is ``SIGNING_KEY_TTL_S`` old (``Refreshed``). In the
``dev`` stage (``SIGNING_KEY_AUTOCREATE``) a missing secret is created with a fresh key.
"""

from __future__ import annotations

import base64
import json
import secrets
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeyParameters, KeySet, OKPKey
from joserfc.jws import JWSRegistry
from joserfc.jwt import ClaimsOption

from chalicelib import clock
from chalicelib.security.refreshed import Refreshed
from chalicelib.settings import get_settings
from chalicelib.store import aws

# Our device tokens are a few hundred characters; anything far longer is not one of them, and is
# refused before any decoding work.
MAX_TOKEN_LENGTH = 4096

# The contract names the algorithm "EdDSA" (RFC 8037), and LoadMasters in the field verify leases
# with exactly that name. RFC 9864 deprecates the name for "Ed25519" (the same signature), and
# joserfc warns at every use: a warning nobody here can act on until the contract moves.
ALGORITHM = "EdDSA"
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)

# Only EdDSA, and only the header members we write (joserfc refuses any other: strict check).
_REGISTRY = JWSRegistry(algorithms=[ALGORITHM])
_PARAMETERS: KeyParameters = {"alg": ALGORITHM, "use": "sig"}

# How long a LoadMaster (or a proxy) may keep the JWKS before fetching it again: a key is made
# active only once every copy of the JWKS in the field has had time to hold it.
JWKS_MAX_AGE_S = 300


class InvalidToken(Exception):
    """The token is malformed, forged, altered, expired or of another kind."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class KeyRing:
    active_kid: str
    private_keys: dict[str, OKPKey]
    # Retired keys' public halves: they verify what they signed, and sign and publish nothing.
    retired_keys: dict[str, OKPKey] = field(default_factory=dict)

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        header = {"alg": ALGORITHM, "kid": self.active_kid, "typ": typ}
        return jwt.encode(header, claims, self.private_keys[self.active_kid], registry=_REGISTRY, default_type=None)

    def verify(self, token: str, typ: str, *, essential: Iterable[str] = ()) -> dict[str, Any]:
        """The claims of a token of kind ``typ`` signed by one of our keys.

        The time claims (``exp``, ``nbf``, ``iat``), where present, are checked against the
        service's clock; the claims named in ``essential`` must be present and not null.

        The token comes from anyone (a device token): whatever its shape, the answer is the claims
        or ``InvalidToken``, never another exception (that would be a 500). The header is read
        before the signature is checked, so it is parsed as hostile JSON."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise InvalidToken(f"not a compact token of at most {MAX_TOKEN_LENGTH} ASCII characters")
        if token.count(".") != 2:
            raise InvalidToken("not three segments")

        def key_named_in(obj: Any) -> OKPKey:
            header = obj.headers()
            kid = header.get("kid")
            # A kid of any other type (a list, an object) is no key of ours. A token without a
            # kid is refused too, though a one-key set would otherwise match it.
            key = (self.private_keys.get(kid) or self.retired_keys.get(kid)) if isinstance(kid, str) else None
            if key is None or header.get("alg") != ALGORITHM or header.get("typ") != typ:
                raise InvalidToken("unknown key, algorithm or token kind")
            return key

        try:
            claims = jwt.decode(token, key_named_in, registry=_REGISTRY).claims
            options: dict[str, ClaimsOption] = {name: {"essential": True} for name in essential}
            registry = jwt.JWTClaimsRegistry(now=_now, leeway=0, **options)
            registry.validate(claims)
        except InvalidToken:
            raise
        except Exception as e:  # the boundary: bad base64, JSON, signature, claims, anything
            # The class name only: a library's message may quote the token.
            raise InvalidToken(f"refused ({e.__class__.__name__})") from e
        return claims

    def jwks(self) -> dict[str, Any]:
        """The public keys, as the JWK set LoadMasters verify leases with (OKP, Ed25519)."""
        ring = KeySet([self.private_keys[kid] for kid in sorted(self.private_keys)])
        return dict(ring.as_dict(private=False))


def _now() -> int:
    return int(clock.now().timestamp())


def new_key(kid: str | None = None, now: datetime | None = None) -> dict[str, str]:
    """A fresh key as the secret holds it, added ``now``."""
    return {
        "kid": kid or f"k{secrets.token_hex(4)}",
        "d": b64url(Ed25519PrivateKey.generate().private_bytes_raw()),
        "added_at": clock.rfc3339(now or clock.now()),
    }


def public_half(key: dict[str, str]) -> dict[str, str]:
    """A key of the secret without its private half: what verifies its device tokens once retired."""
    x = b64url(Ed25519PrivateKey.from_private_bytes(b64url_decode(key["d"])).public_key().public_bytes_raw())
    return {"kid": key["kid"], "x": x}


def new_secret_value(kid: str | None = None) -> str:
    """A secret holding one fresh key, active: what the first deployment stores (see docs)."""
    key = new_key(kid)
    return json.dumps({"active_kid": key["kid"], "keys": [key | {"activated_at": key["added_at"]}]})


def parse_secret(value: str) -> KeyRing:
    """The ring the secret holds, or an exception for one that could not sign, publish or verify
    with each of its keys (a refresh then keeps the last good ring, ``Refreshed``)."""
    doc = json.loads(value)
    if not all(isinstance(k["kid"], str) and k["kid"] for k in [*doc["keys"], *doc.get("retired", [])]):
        raise ValueError("every kid must be a non-empty string")
    keys = {
        k["kid"]: OKPKey.import_key(
            Ed25519PrivateKey.from_private_bytes(b64url_decode(k["d"])), {"kid": k["kid"], **_PARAMETERS}
        )
        for k in doc["keys"]
    }
    retired = {
        k["kid"]: OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": k["x"]}, {"kid": k["kid"], **_PARAMETERS})
        for k in doc.get("retired", [])
    }
    if doc["active_kid"] not in keys:
        raise ValueError("active_kid is not one of the keys")
    return KeyRing(doc["active_kid"], keys, retired)


def key_ring_cache() -> Refreshed[KeyRing]:
    """A container's key ring: read from Secrets Manager on first use and again every
    ``SIGNING_KEY_TTL_S`` (a test makes several, as several containers)."""
    return Refreshed("signing keys", lambda: parse_secret(_load_secret()), get_settings().signing_key_ttl_s)


_ring: Refreshed[KeyRing] | None = None


def key_ring() -> KeyRing:
    """This container's key ring, at most ``SIGNING_KEY_TTL_S`` old."""
    global _ring
    if _ring is None:
        _ring = key_ring_cache()
    return _ring.get()


def reset_key_ring() -> None:
    """Forget the cached keys (``configure``: its settings may name another secret or TTL)."""
    global _ring
    _ring = None


def _load_secret() -> str:
    settings = get_settings()
    client = aws.client("secretsmanager")
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
