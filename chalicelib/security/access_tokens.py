"""Accounts' access tokens: Cognito JWTs verified against the user pool's published keys.

Checked: the RS256 signature by a key of the pool's JWKS, the issuer (the pool), ``client_id``
(our app client), ``token_use == "access"`` (an ID token is not a credential), and expiry, on
the wall clock Cognito issues them by. The JWKS is fetched once per container and again, at most
once a minute, when a token names a key it does not hold (Cognito rotating its keys): a flood
of made-up key ids costs one fetch a minute, not one each.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, cast

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from chalicelib.domain.accounts import Principal
from chalicelib.store import identity

REFETCH_AFTER_S = 60
LEEWAY_S = 30

_lock = threading.Lock()
_keys: dict[str, tuple[KeySet, set[str | None], float]] = {}  # by JWKS URL: the set, its kids, when fetched


class InvalidAccessToken(Exception):
    """Not an access token of this user pool and app client, or expired."""


def reset() -> None:
    """Forget the keys (``configure`` with other settings)."""
    with _lock:
        _keys.clear()


def looks_like_jwt(credential: str) -> bool:
    """A compact JWS: three base64url parts, the first a JSON object (``eyJ``). Our tenant keys
    are ``lk_<kind>.<tenant>.<secret>``, so the two never meet."""
    return credential.startswith("eyJ") and credential.count(".") == 2


def _key_set(kid: str | None) -> KeySet:
    url = identity.jwks_url()
    with _lock:
        cached = _keys.get(url)
    if cached is not None and (kid in cached[1] or time.monotonic() - cached[2] < REFETCH_AFTER_S):
        return cached[0]
    document = identity.json_web_keys()
    try:
        # Whatever the pool answered: joserfc checks its shape and refuses a bad one.
        key_set = KeySet.import_key_set(cast(KeySetSerialization, document))
    except (JoseError, ValueError, TypeError, KeyError) as e:
        raise InvalidAccessToken("the pool's keys are not a JWK set") from e
    kids = {k.get("kid") for k in document.get("keys", []) if isinstance(k, dict)}
    with _lock:
        _keys[url] = (key_set, kids, time.monotonic())
    return key_set


def verify(token: str) -> Principal:
    """The account the access token names, or ``InvalidAccessToken``."""
    try:
        header = jws.extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeError, TypeError) as e:
        raise InvalidAccessToken("not a compact JWS") from e
    if header.get("alg") != "RS256":
        raise InvalidAccessToken("not RS256")
    key_set = _key_set(header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(token, key_set, algorithms=["RS256"]).claims
        jwt.JWTClaimsRegistry(
            now=lambda: int(time.time()),
            leeway=LEEWAY_S,
            iss={"essential": True, "value": identity.issuer()},
            client_id={"essential": True, "value": identity.app_client_id()},
            token_use={"essential": True, "value": "access"},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(claims)
    except (JoseError, ValueError, TypeError, json.JSONDecodeError) as e:
        raise InvalidAccessToken(type(e).__name__) from e
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidAccessToken("no subject")
    return Principal(claims["sub"], token)
