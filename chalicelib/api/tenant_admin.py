"""The tenant administrator's endpoints (``Authorization: Bearer <tenant api key>``), and the
usage report the operator shares."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import clock
from chalicelib.api.http import decode_cursor, encode_cursor, json_response, route
from chalicelib.api.schemas import (
    DeletedResponse,
    DeviceDetailResponse,
    DeviceQuery,
    DeviceResponse,
    DevicesResponse,
    EventQuery,
    EventsResponse,
    KeyRotatedResponse,
    KeyRotateRequest,
    LicenseStateResponse,
    LicenseTypeCreateRequest,
    LicenseTypeResponse,
    LicenseTypesResponse,
    LicenseTypeUpdateRequest,
    OperatorUsageResponse,
    ReplacedResponse,
    ReplaceRequest,
    SettingsResponse,
    SettingsUpdateRequest,
    UsageQuery,
    UsageResponse,
)
from chalicelib.domain.model import Tenant
from chalicelib.security.keys import KeyKind
from chalicelib.services import devices, events, keys, license_types, licensing_policy, usage
from chalicelib.services.devices import DeviceFilter
from chalicelib.services.tenants import with_effective_state

bp = Blueprint(__name__)


@route(bp, "/v1/license", ["GET"], summary="The tenant's licensing state", auth="tenant", response=LicenseStateResponse)
def license_state(caller: Tenant):
    return json_response(LicenseStateResponse.model_validate(with_effective_state(caller, clock.now())))


# License types ---------------------------------------------------------------------------------


@route(bp, "/v1/license-types", ["GET"], summary="The tenant's pools", auth="tenant", response=LicenseTypesResponse)
def list_license_types(caller: Tenant):
    return json_response(LicenseTypesResponse(license_types=license_types.list_license_types(caller)))


@route(
    bp,
    "/v1/license-types",
    ["POST"],
    summary="Create a pool",
    auth="tenant",
    body=LicenseTypeCreateRequest,
    response=LicenseTypeResponse,
    status=201,
)
def create_license_type(caller: Tenant, body: LicenseTypeCreateRequest):
    created = license_types.create_license_type(
        caller,
        name=body.name,
        sku=body.sku,
        capacity=body.capacity,
        overage_policy=body.overage_policy,
        now=clock.now(),
    )
    return json_response(LicenseTypeResponse.model_validate(created), 201)


@route(
    bp, "/v1/license-types/{lic_type_id}", ["GET"], summary="Read a pool", auth="tenant", response=LicenseTypeResponse
)
def get_license_type(lic_type_id: str, caller: Tenant):
    return json_response(LicenseTypeResponse.model_validate(license_types.get_license_type(caller, lic_type_id)))


@route(
    bp,
    "/v1/license-types/{lic_type_id}",
    ["PATCH"],
    summary="Rename, resize or change the overage policy",
    auth="tenant",
    body=LicenseTypeUpdateRequest,
    response=LicenseTypeResponse,
)
def update_license_type(lic_type_id: str, caller: Tenant, body: LicenseTypeUpdateRequest):
    updated = license_types.update_license_type(
        caller, lic_type_id, name=body.name, capacity=body.capacity, overage_policy=body.overage_policy, now=clock.now()
    )
    return json_response(LicenseTypeResponse.model_validate(updated))


@route(
    bp,
    "/v1/license-types/{lic_type_id}",
    ["DELETE"],
    summary="Delete a pool with no instance in use",
    auth="tenant",
    response=DeletedResponse,
)
def delete_license_type(lic_type_id: str, caller: Tenant):
    license_types.delete_license_type(caller, lic_type_id, clock.now())
    return json_response({"deleted": lic_type_id})


# Devices ---------------------------------------------------------------------------------------


@route(
    bp,
    "/v1/devices",
    ["GET"],
    summary="The table of licenses, filtered and paged",
    auth="tenant",
    query=DeviceQuery,
    response=DevicesResponse,
)
def list_devices(caller: Tenant, query: DeviceQuery):
    scope = f"devices:{caller.tenant_id}"
    found, last_key = devices.list_devices(
        caller,
        DeviceFilter(query.status, query.lic_type_id, query.mac, query.ip),
        limit=query.limit,
        cursor=decode_cursor(query.next, scope),
    )
    return json_response(DevicesResponse(devices=found, next=encode_cursor(last_key, scope)))


@route(
    bp,
    "/v1/devices/{device_id}",
    ["GET"],
    summary="One device with its history",
    auth="tenant",
    response=DeviceDetailResponse,
)
def get_device(device_id: str, caller: Tenant):
    device = devices.get_device(caller, device_id)
    history = devices.history(caller, device_id, clock.now())
    return json_response(DeviceDetailResponse(history=history, **DeviceResponse.model_validate(device).model_dump()))


@route(
    bp,
    "/v1/devices/{device_id}/unblock",
    ["POST"],
    summary="BLOCKED becomes DEACTIVATED",
    auth="tenant",
    response=DeviceResponse,
)
def unblock_device(device_id: str, caller: Tenant):
    return json_response(DeviceResponse.model_validate(devices.unblock(caller, device_id, clock.now())))


@route(
    bp,
    "/v1/devices/{device_id}",
    ["DELETE"],
    summary="Remove the LoadMaster and release its instance",
    auth="tenant",
    response=DeletedResponse,
)
def delete_device(device_id: str, caller: Tenant):
    devices.delete(caller, device_id, clock.now())
    return json_response({"deleted": device_id})


# Debug log, settings, keys ---------------------------------------------------------------------


@route(
    bp,
    "/v1/events",
    ["GET"],
    summary="The debug log, newest first",
    auth="tenant",
    query=EventQuery,
    response=EventsResponse,
)
def list_events(caller: Tenant, query: EventQuery):
    scope = f"events:{caller.tenant_id}:{query.device_id or ''}"
    found, last_key = events.list_events(
        caller, device_id=query.device_id, limit=query.limit, cursor=decode_cursor(query.next, scope), now=clock.now()
    )
    return json_response(EventsResponse(events=found, next=encode_cursor(last_key, scope)))


@route(bp, "/v1/settings", ["GET"], summary="Licensing settings", auth="tenant", response=SettingsResponse)
def get_settings(caller: Tenant):
    return json_response(SettingsResponse.model_validate(caller.policy))


@route(
    bp,
    "/v1/settings",
    ["PATCH"],
    summary="Change licensing settings",
    auth="tenant",
    body=SettingsUpdateRequest,
    response=SettingsResponse,
)
def update_settings(caller: Tenant, body: SettingsUpdateRequest):
    policy = licensing_policy.update(caller, body.model_dump(exclude_none=True), clock.now())
    return json_response(SettingsResponse.model_validate(policy))


@route(
    bp,
    "/v1/keys/rotate",
    ["POST"],
    summary="New API or activation key (shown once)",
    auth="tenant",
    body=KeyRotateRequest,
    response=KeyRotatedResponse,
    status=201,
)
def rotate_key(caller: Tenant, body: KeyRotateRequest):
    kind = KeyKind.API if body.kind == "api" else KeyKind.ACTIVATION
    return json_response(KeyRotatedResponse(kind=body.kind, key=keys.rotate(caller, kind, clock.now())), 201)


# Usage: the tenant's own, or every tenant's for the operator -----------------------------------


@route(
    bp,
    "/v1/usage",
    ["GET"],
    summary="Metered usage of a month (the operator: every tenant's)",
    auth="tenant_or_operator",
    query=UsageQuery,
    response=(UsageResponse, OperatorUsageResponse),
)
def get_usage(caller: Tenant | None, query: UsageQuery):
    if caller is None:  # the operator: every tenant's
        return json_response(OperatorUsageResponse(month=query.month, tenants=usage.every_tenant(query.month)))
    return json_response(UsageResponse.model_validate(usage.month_of_use(caller, query.month)))


@route(
    bp,
    "/v1/usage.csv",
    ["GET"],
    summary="Metered usage of a month as CSV",
    auth="tenant_or_operator",
    query=UsageQuery,
    content_type="text/csv",
)
def get_usage_csv(caller: Tenant | None, query: UsageQuery):
    month = query.month
    months = usage.every_tenant(month) if caller is None else [usage.month_of_use(caller, month)]
    return Response(
        body=usage.as_csv(months),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="usage-{month}.csv"',
        },
    )


@route(
    bp,
    "/v1/devices/{device_id}/replace",
    ["POST"],
    summary="Move the license to a successor LoadMaster",
    auth="tenant",
    body=ReplaceRequest,
    response=ReplacedResponse,
)
def replace_device(device_id: str, caller: Tenant, body: ReplaceRequest):
    result = devices.replace(caller, device_id, mac=body.mac, ip=body.ip, port=body.port, now=clock.now())
    return json_response(
        ReplacedResponse(
            device_token=result.device_token,
            license=result.lease.token,
            lease_expires_at=result.lease.expires_at,
            **DeviceResponse.model_validate(result.device).model_dump(),
        )
    )
