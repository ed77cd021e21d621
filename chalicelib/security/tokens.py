"""Device tokens and leases, both Ed25519-signed JWS.

A device token authenticates a LoadMaster's calls after activation. Verifying it needs no
DynamoDB read: it is signed by the service and names the device, its tenant and the credential
version, which every write on the device checks in its condition (bump it to revoke).

A device token has no expiry, and every check-in answers a fresh one signed with the active key.
A LoadMaster that keeps the token its activation gave it (API.md does not oblige it to take the
fresh one) must not be cut off by a key rotation: a retired key keeps its public half, which
verifies the device tokens it signed (``signing``). Bumping the credential version, not a key
rotation, is what revokes a device token.

A lease is what the LoadMaster keeps: a JWT it can verify offline with the JWKS, saying which
license it holds until ``exp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.domain.model import Device
from chalicelib.security.signing import InvalidToken, key_ring
from chalicelib.store.failures import aws_call

DEVICE_TOKEN_TYP = "device+jwt"
LEASE_TYP = "JWT"


def _ring():
    # A container's first read of the keys from Secrets Manager: a passing failure of it is
    # UNAVAILABLE, as DynamoDB's are (a later refresh that fails keeps the keys it has).
    with aws_call():
        return key_ring()


@dataclass(frozen=True)
class DeviceCredential:
    device_id: str
    tenant_id: str
    version: int
    mac: str


def issue_device_token(device: Device) -> str:
    claims = {"sub": device.device_id, "tid": device.tenant_id, "ver": device.credential_version, "mac": device.mac}
    return _ring().sign(claims, DEVICE_TOKEN_TYP)


def verify_device_token(token: str) -> DeviceCredential:
    claims = _ring().verify(token, DEVICE_TOKEN_TYP)
    sub, tid, ver, mac = claims.get("sub"), claims.get("tid"), claims.get("ver"), claims.get("mac")
    if not (isinstance(sub, str) and isinstance(tid, str) and isinstance(ver, int) and isinstance(mac, str)):
        raise InvalidToken("device token lacks sub, tid, ver or mac")
    return DeviceCredential(sub, tid, ver, mac)


@dataclass(frozen=True)
class Lease:
    token: str
    expires_at: datetime


def issue_lease(device: Device, now: datetime) -> Lease:
    """A lease for ``device.lease_s`` seconds from ``now``."""
    issued, lease_s = int(now.timestamp()), device.lease_s
    claims = {
        "sub": device.device_id,
        "tid": device.tenant_id,
        "lic_type_id": device.lic_type_id,
        "sku": device.sku,
        "mac": device.mac,
        "status": str(device.status),
        "iat": issued,
        "exp": issued + lease_s,
    }
    return Lease(_ring().sign(claims, LEASE_TYP), datetime.fromtimestamp(issued + lease_s, UTC))
