"""The tenant administrator's side of devices: the table of licenses (seed: "Settings and
Configuration > LoadMaster Licensing"), Unblock, and deleting a LoadMaster to release its
license."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import Code, DomainError, conflict, not_found
from chalicelib.domain.model import HOLDING, Device, DeviceStatus, Event, Tenant
from chalicelib.observability import logger
from chalicelib.security.tokens import Lease, issue_device_token, issue_lease
from chalicelib.services import events
from chalicelib.store import devices as store
from chalicelib.store.transaction import TransactionCancelled


@dataclass(frozen=True)
class DeviceFilter:
    status: str | None = None
    lic_type_id: str | None = None
    mac: str | None = None
    ip: str | None = None


def list_devices(
    tenant: Tenant, filters: DeviceFilter, *, limit: int, cursor: dict | None
) -> tuple[list[Device], dict | None]:
    return store.devices_of_tenant(
        tenant.tenant_id,
        limit=limit,
        cursor=cursor,
        status=filters.status,
        lic_type_id=filters.lic_type_id,
        mac=filters.mac,
        ip=filters.ip,
    )


def get_device(tenant: Tenant, device_id: str) -> Device:
    device = store.get_device(device_id)
    # Another tenant's device does not exist for this one: same answer, nothing leaked.
    if device is None or device.tenant_id != tenant.tenant_id:
        raise not_found("Device")
    return device


def history(tenant: Tenant, device_id: str, now: datetime, limit: int = 20) -> list[Event]:
    found, _ = events.list_events(tenant, device_id=device_id, limit=limit, cursor=None, now=now)
    return found


def unblock(tenant: Tenant, device_id: str, now: datetime) -> Device:
    """BLOCKED becomes DEACTIVATED: the LoadMaster may activate again (seed: "Unblock the
    LoadMaster from the Metered Licensing Management page")."""
    device = get_device(tenant, device_id)
    if device.status != DeviceStatus.BLOCKED or not store.unblock(device, now):
        raise conflict("Only a BLOCKED device can be unblocked.", status=str(get_device(tenant, device_id).status))
    logger.info("device unblocked", extra={"device_id": device_id})
    return get_device(tenant, device_id)


def delete(tenant: Tenant, device_id: str, now: datetime) -> None:
    """Remove the LoadMaster and release its instance (seed: "delete a LoadMaster that is not
    needed to release a license"). A later check-in from it is UNKNOWN_DEVICE."""
    for _ in range(5):
        device = get_device(tenant, device_id)
        if device.status in HOLDING:
            store.release(store.Holder.of(device), DeviceStatus.DEACTIVATED, "deleted by the administrator", now)
            continue  # read it again: released now, or moved meanwhile
        if store.delete_released(device, now):
            logger.info("device deleted", extra={"device_id": device_id})
            return
    raise conflict("The device kept changing; try again.")


@dataclass(frozen=True)
class Replacement:
    device: Device
    device_token: str
    lease: Lease


def replace(tenant: Tenant, device_id: str, *, mac: str, ip: str, port: int, now: datetime) -> Replacement:
    """Move a license to the LoadMaster that replaces this one (its MAC changed, or it was
    rebuilt), keeping the instance, the license type and the history, in one call. The old
    LoadMaster's token stops working; the answer carries the successor's token and lease."""
    device = get_device(tenant, device_id)
    if device.status not in HOLDING:
        raise conflict("Only a device that holds a license can be replaced.", status=str(device.status))
    try:
        replaced = store.replace(device, mac=mac, ip=ip, port=port, now=now)
    except TransactionCancelled as e:
        if "mac" in e.failed:
            raise conflict("Another device of this tenant holds that MAC.", mac=mac) from e
        # "Device with same IP Address already exist."
        raise DomainError(Code.DUPLICATE_ADDRESS) from e
    if replaced is None:
        raise conflict("The device changed meanwhile; try again.")
    logger.info("device replaced", extra={"device_id": device_id})
    return Replacement(replaced, issue_device_token(replaced), issue_lease(replaced, now))
