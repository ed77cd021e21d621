"""The LoadMaster's life after activation (seed, end of section 6): "A LoadMaster licensed via
Kemp 360 Central periodically contacts Kemp 360 Central to verify the LoadMaster's license
activation status." Each check-in renews its signed lease; a LoadMaster may also give its
instance back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.errors import Code, DomainError
from chalicelib.domain.licensing import DeviceVerdict, device_verdict, verdict_error
from chalicelib.domain.model import Device, DeviceStatus
from chalicelib.observability import count, logger
from chalicelib.security.tokens import DeviceCredential, Lease, issue_device_token, issue_lease
from chalicelib.store import devices as device_store
from chalicelib.store import events
from chalicelib.store.transaction import TransactionCancelled


@dataclass(frozen=True)
class CheckIn:
    device: Device
    lease: Lease
    device_token: str
    next_check_in_after: datetime


def check_in(
    credential: DeviceCredential, device_id: str, *, mac: str, ip: str, port: int, version: str, now: datetime
) -> CheckIn:
    """Record that the LoadMaster is alive and answer a fresh lease. The common case is one
    conditional write and no read; a LoadMaster whose address changed costs a transaction."""
    for _ in range(3):
        written, device = device_store.check_in(
            device_id,
            tenant_id=credential.tenant_id,
            credential_version=credential.version,
            mac=mac,
            ip=ip,
            port=port,
            version=version,
            now=now,
        )
        if written:
            assert device is not None  # a written check-in answers the device after it
            count("CheckIns")
            return CheckIn(
                device,
                issue_lease(device, now),
                issue_device_token(device),
                now + timedelta(seconds=device.check_in_interval_s),
            )
        _refuse_unless_moved(device, credential, mac, ip, port, now)
    raise DomainError(Code.UNAVAILABLE)


def _refuse_unless_moved(
    device: Device | None, credential: DeviceCredential, mac: str, ip: str, port: int, now: datetime
) -> None:
    """Say why the check-in's condition failed, from the item it returned; if only the address
    differs, move the address claim and let the caller write the check-in again."""
    verdict = device_verdict(device, tenant_id=credential.tenant_id, credential_version=credential.version, mac=mac)
    if verdict == DeviceVerdict.UNKNOWN:
        raise verdict_error(verdict, mac)
    assert device is not None  # any other verdict is one on a device
    if verdict == DeviceVerdict.CLONE:
        # Another LoadMaster carries this device's token: refused, and the debug log says so.
        count("ClonesSuspected")
        logger.warning("clone suspected", extra={"device_id": device.device_id, "mac": mac, "ip": ip})
        events.record(
            device.tenant_id,
            "device.clone_suspected",
            now,
            device_id=device.device_id,
            mac=device.mac,
            ip=device.ip,
            port=device.port,
            clone_mac=mac,
            clone_ip=ip,
            clone_port=port,
        )
    if verdict != DeviceVerdict.HOLDING:
        raise verdict_error(verdict, mac)
    if (device.ip, device.port) != (ip, port):
        try:
            device_store.move_address(device, ip, port)
        except TransactionCancelled as e:
            # "Device with same IP Address already exist.": another LoadMaster holds it.
            raise DomainError(Code.DUPLICATE_ADDRESS) from e
        logger.info("device address moved", extra={"device_id": device.device_id, "ip": ip, "port": port})


def deactivate(credential: DeviceCredential, device_id: str, now: datetime) -> Device:
    """The LoadMaster gives its instance back. Releasing happens once: a retry finds the device
    DEACTIVATED and answers it again."""
    for _ in range(3):
        device = device_store.get_device(device_id)
        verdict = device_verdict(device, tenant_id=credential.tenant_id, credential_version=credential.version)
        if verdict not in (DeviceVerdict.DEACTIVATED, DeviceVerdict.HOLDING):
            raise verdict_error(verdict, credential.mac)
        assert device is not None  # either verdict is one on a device
        if verdict == DeviceVerdict.DEACTIVATED:
            return device
        released = device_store.release(
            device_store.Holder.of(device), DeviceStatus.DEACTIVATED, "deactivated by the LoadMaster", now
        )
        if released == device_store.Released.RELEASED:
            logger.info("device deactivated by the LoadMaster", extra={"device_id": device_id})
            return device_store.get_device(device_id) or device
    raise DomainError(Code.UNAVAILABLE)
