"""The tenant administrator's endpoints (``Authorization: Bearer <tenant api key>``), and the
usage report the operator shares."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import clock
from chalicelib.api.http import decode_cursor, encode_cursor, json_response, parse_body, parse_query, route
from chalicelib.api.schemas import (
    DeletedResponse,
    DeviceDetailResponse,
    DeviceQuery,
    DeviceResponse,
    DevicesResponse,
    EventQuery,
    EventResponse,
    EventsResponse,
    HourResponse,
    KeyRotatedResponse,
    KeyRotateRequest,
    LicenseStateResponse,
    LicenseTypeCreateRequest,
    LicenseTypeResponse,
    LicenseTypesResponse,
    LicenseTypeUpdateRequest,
    LicenseTypeUsageResponse,
    OperatorUsageResponse,
    ReplacedResponse,
    ReplaceRequest,
    SettingsResponse,
    SettingsUpdateRequest,
    TenantUsageResponse,
    UsageQuery,
    UsageResponse,
)
from chalicelib.security import auth
from chalicelib.security.keys import KeyKind
from chalicelib.services import devices, events, keys, license_types, settings, usage
from chalicelib.services.devices import DeviceFilter
from chalicelib.services.tenants import with_effective_state

bp = Blueprint(__name__)


def _headers():
    return bp.current_request.headers


def _query(model):
    return parse_query(bp.current_request.query_params, model)


def _body(model):
    return parse_body(bp.current_request.raw_body, model)


@route(bp, "/v1/license", ["GET"], summary="The tenant's licensing state", auth="tenant", response=LicenseStateResponse)
def license_state():
    tenant = auth.tenant_admin(_headers())
    return json_response(LicenseStateResponse.of(with_effective_state(tenant, clock.now())))


# License types ---------------------------------------------------------------------------------


@route(bp, "/v1/license-types", ["GET"], summary="The tenant's pools", auth="tenant", response=LicenseTypesResponse)
def list_license_types():
    tenant = auth.tenant_admin(_headers())
    types = license_types.list_license_types(tenant)
    return json_response(LicenseTypesResponse(license_types=[LicenseTypeResponse.of(t) for t in types]))


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
def create_license_type():
    tenant = auth.tenant_admin(_headers())
    request = _body(LicenseTypeCreateRequest)
    created = license_types.create_license_type(
        tenant,
        name=request.name,
        sku=request.sku,
        capacity=request.capacity,
        overage_policy=request.overage_policy,
        now=clock.now(),
    )
    return json_response(LicenseTypeResponse.of(created), 201)


@route(
    bp, "/v1/license-types/{lic_type_id}", ["GET"], summary="Read a pool", auth="tenant", response=LicenseTypeResponse
)
def get_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(_headers())
    return json_response(LicenseTypeResponse.of(license_types.get_license_type(tenant, lic_type_id)))


@route(
    bp,
    "/v1/license-types/{lic_type_id}",
    ["PATCH"],
    summary="Rename, resize or change the overage policy",
    auth="tenant",
    body=LicenseTypeUpdateRequest,
    response=LicenseTypeResponse,
)
def update_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(_headers())
    request = _body(LicenseTypeUpdateRequest)
    updated = license_types.update_license_type(
        tenant,
        lic_type_id,
        name=request.name,
        capacity=request.capacity,
        overage_policy=request.overage_policy,
        now=clock.now(),
    )
    return json_response(LicenseTypeResponse.of(updated))


@route(
    bp,
    "/v1/license-types/{lic_type_id}",
    ["DELETE"],
    summary="Delete a pool with no instance in use",
    auth="tenant",
    response=DeletedResponse,
)
def delete_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(_headers())
    license_types.delete_license_type(tenant, lic_type_id, clock.now())
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
def list_devices():
    tenant = auth.tenant_admin(_headers())
    query = _query(DeviceQuery)
    scope = f"devices:{tenant.tenant_id}"
    found, last_key = devices.list_devices(
        tenant,
        DeviceFilter(query.status, query.lic_type_id, query.mac, query.ip),
        limit=query.limit,
        cursor=decode_cursor(query.next, scope),
    )
    return json_response(
        DevicesResponse(devices=[DeviceResponse.of(d) for d in found], next=encode_cursor(last_key, scope))
    )


@route(
    bp,
    "/v1/devices/{device_id}",
    ["GET"],
    summary="One device with its history",
    auth="tenant",
    response=DeviceDetailResponse,
)
def get_device(device_id: str):
    tenant = auth.tenant_admin(_headers())
    device = devices.get_device(tenant, device_id)
    history = [EventResponse.of(e) for e in devices.history(tenant, device_id, clock.now())]
    return json_response(DeviceDetailResponse(history=history, **DeviceResponse.of(device).model_dump()))


@route(
    bp,
    "/v1/devices/{device_id}/unblock",
    ["POST"],
    summary="BLOCKED becomes DEACTIVATED",
    auth="tenant",
    response=DeviceResponse,
)
def unblock_device(device_id: str):
    tenant = auth.tenant_admin(_headers())
    return json_response(DeviceResponse.of(devices.unblock(tenant, device_id, clock.now())))


@route(
    bp,
    "/v1/devices/{device_id}",
    ["DELETE"],
    summary="Remove the LoadMaster and release its instance",
    auth="tenant",
    response=DeletedResponse,
)
def delete_device(device_id: str):
    tenant = auth.tenant_admin(_headers())
    devices.delete(tenant, device_id, clock.now())
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
def list_events():
    tenant = auth.tenant_admin(_headers())
    query = _query(EventQuery)
    scope = f"events:{tenant.tenant_id}:{query.device_id or ''}"
    found, last_key = events.list_events(
        tenant, device_id=query.device_id, limit=query.limit, cursor=decode_cursor(query.next, scope), now=clock.now()
    )
    return json_response(
        EventsResponse(events=[EventResponse.of(e) for e in found], next=encode_cursor(last_key, scope))
    )


@route(bp, "/v1/settings", ["GET"], summary="Licensing settings", auth="tenant", response=SettingsResponse)
def get_settings():
    tenant = auth.tenant_admin(_headers())
    return json_response(SettingsResponse.of(tenant.settings))


@route(
    bp,
    "/v1/settings",
    ["PATCH"],
    summary="Change licensing settings",
    auth="tenant",
    body=SettingsUpdateRequest,
    response=SettingsResponse,
)
def update_settings():
    tenant = auth.tenant_admin(_headers())
    changes = _body(SettingsUpdateRequest).model_dump(exclude_none=True)
    return json_response(SettingsResponse.of(settings.update(tenant, changes, clock.now())))


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
def rotate_key():
    tenant = auth.tenant_admin(_headers())
    request = _body(KeyRotateRequest)
    kind = KeyKind.API if request.kind == "api" else KeyKind.ACTIVATION
    return json_response(KeyRotatedResponse(kind=request.kind, key=keys.rotate(tenant, kind, clock.now())), 201)


# Usage: the tenant's own, or every tenant's for the operator -----------------------------------


def _type_usage(month) -> list[LicenseTypeUsageResponse]:
    return [LicenseTypeUsageResponse(**t.__dict__) for t in month.license_types]


@route(
    bp,
    "/v1/usage",
    ["GET"],
    summary="Metered usage of a month (the operator: every tenant's)",
    auth="tenant_or_operator",
    query=UsageQuery,
    response=(UsageResponse, OperatorUsageResponse),
)
def get_usage():
    tenant = auth.tenant_admin_or_operator(_headers())
    month = _query(UsageQuery).month
    if tenant is None:
        return json_response(
            OperatorUsageResponse(
                month=month,
                tenants=[
                    TenantUsageResponse(tenant_id=m.tenant_id, name=m.tenant_name, license_types=_type_usage(m))
                    for m in usage.every_tenant(month)
                ],
            )
        )
    report = usage.month_of_use(tenant, month)
    return json_response(
        UsageResponse(
            month=month, license_types=_type_usage(report), hours=[HourResponse(**h.__dict__) for h in report.hours]
        )
    )


@route(
    bp,
    "/v1/usage.csv",
    ["GET"],
    summary="Metered usage of a month as CSV",
    auth="tenant_or_operator",
    query=UsageQuery,
    content_type="text/csv",
)
def get_usage_csv():
    tenant = auth.tenant_admin_or_operator(_headers())
    month = _query(UsageQuery).month
    months = usage.every_tenant(month) if tenant is None else [usage.month_of_use(tenant, month)]
    return Response(
        body=usage.as_csv(months),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="usage-{month}.csv"',
        },
    )


@route(bp, "/v1/devices/{device_id}/replace", ["POST"], summary="Move the license to a successor LoadMaster",
       auth="tenant", body=ReplaceRequest, response=ReplacedResponse)
def replace_device(device_id: str):
    tenant = auth.tenant_admin(_headers())
    request = _body(ReplaceRequest)
    result = devices.replace(tenant, device_id, mac=request.mac, ip=request.ip, port=request.port, now=clock.now())
    return json_response(ReplacedResponse(device_token=result.device_token, license=result.lease.token,
                                          lease_expires_at=result.lease.expires_at,
                                          **DeviceResponse.of(result.device).model_dump()))
