"""The tenant administrator's side of devices: the table of licenses (seed: "Settings and
Configuration > LoadMaster Licensing"), Unblock, and deleting a LoadMaster to release its
license."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import conflict, not_found
from chalicelib.domain.model import HOLDING, Device, DeviceStatus, Event, Tenant
from chalicelib.observability import logger
from chalicelib.services import events
from chalicelib.store import devices as store


@dataclass(frozen=True)
class DeviceFilter:
    status: str | None = None
    lic_type_id: str | None = None
    mac: str | None = None
    ip: str | None = None


def list_devices(tenant: Tenant, filters: DeviceFilter, *, limit: int,
                 cursor: dict | None) -> tuple[list[Device], dict | None]:
    return store.devices_of_tenant(tenant.tenant_id, limit=limit, cursor=cursor, status=filters.status,
                                   lic_type_id=filters.lic_type_id, mac=filters.mac, ip=filters.ip)


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
