"""The tenant administrator's endpoints (``Authorization: Bearer <tenant api key>``), and the
usage report the operator shares."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import clock
from chalicelib.api.http import decode_cursor, encode_cursor, json_response, parse_body, parse_query, route
from chalicelib.api.schemas import (
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


@route(bp, "/v1/license", ["GET"])
def license_state():
    tenant = auth.tenant_admin(_headers())
    return json_response(LicenseStateResponse.of(with_effective_state(tenant, clock.now())))


# License types ---------------------------------------------------------------------------------


@route(bp, "/v1/license-types", ["GET"])
def list_license_types():
    tenant = auth.tenant_admin(_headers())
    types = license_types.list_license_types(tenant)
    return json_response(LicenseTypesResponse(license_types=[LicenseTypeResponse.of(t) for t in types]))


@route(bp, "/v1/license-types", ["POST"])
def create_license_type():
    tenant = auth.tenant_admin(_headers())
    request = _body(LicenseTypeCreateRequest)
    created = license_types.create_license_type(tenant, name=request.name, sku=request.sku, capacity=request.capacity,
                                                overage_policy=request.overage_policy, now=clock.now())
    return json_response(LicenseTypeResponse.of(created), 201)


@route(bp, "/v1/license-types/{lic_type_id}", ["GET"])
def get_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(_headers())
    return json_response(LicenseTypeResponse.of(license_types.get_license_type(tenant, lic_type_id)))


@route(bp, "/v1/license-types/{lic_type_id}", ["PATCH"])
def update_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(_headers())
    request = _body(LicenseTypeUpdateRequest)
    updated = license_types.update_license_type(tenant, lic_type_id, name=request.name, capacity=request.capacity,
                                                overage_policy=request.overage_policy, now=clock.now())
    return json_response(LicenseTypeResponse.of(updated))


@route(bp, "/v1/license-types/{lic_type_id}", ["DELETE"])
def delete_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(_headers())
    license_types.delete_license_type(tenant, lic_type_id, clock.now())
    return json_response({"deleted": lic_type_id})


# Devices ---------------------------------------------------------------------------------------


@route(bp, "/v1/devices", ["GET"])
def list_devices():
    tenant = auth.tenant_admin(_headers())
    query = _query(DeviceQuery)
    scope = f"devices:{tenant.tenant_id}"
    found, last_key = devices.list_devices(
        tenant, DeviceFilter(query.status, query.lic_type_id, query.mac, query.ip), limit=query.limit,
        cursor=decode_cursor(query.next, scope))
    return json_response(DevicesResponse(devices=[DeviceResponse.of(d) for d in found],
                                         next=encode_cursor(last_key, scope)))


@route(bp, "/v1/devices/{device_id}", ["GET"])
def get_device(device_id: str):
    tenant = auth.tenant_admin(_headers())
    device = devices.get_device(tenant, device_id)
    history = [EventResponse.of(e) for e in devices.history(tenant, device_id, clock.now())]
    return json_response(DeviceDetailResponse(history=history, **DeviceResponse.of(device).model_dump()))


@route(bp, "/v1/devices/{device_id}/unblock", ["POST"])
def unblock_device(device_id: str):
    tenant = auth.tenant_admin(_headers())
    return json_response(DeviceResponse.of(devices.unblock(tenant, device_id, clock.now())))


@route(bp, "/v1/devices/{device_id}", ["DELETE"])
def delete_device(device_id: str):
    tenant = auth.tenant_admin(_headers())
    devices.delete(tenant, device_id, clock.now())
    return json_response({"deleted": device_id})


# Debug log, settings, keys ---------------------------------------------------------------------


@route(bp, "/v1/events", ["GET"])
def list_events():
    tenant = auth.tenant_admin(_headers())
    query = _query(EventQuery)
    scope = f"events:{tenant.tenant_id}:{query.device_id or ''}"
    found, last_key = events.list_events(tenant, device_id=query.device_id, limit=query.limit,
                                         cursor=decode_cursor(query.next, scope), now=clock.now())
    return json_response(EventsResponse(events=[EventResponse.of(e) for e in found],
                                        next=encode_cursor(last_key, scope)))


@route(bp, "/v1/settings", ["GET"])
def get_settings():
    tenant = auth.tenant_admin(_headers())
    return json_response(SettingsResponse.of(tenant.settings))


@route(bp, "/v1/settings", ["PATCH"])
def update_settings():
    tenant = auth.tenant_admin(_headers())
    changes = _body(SettingsUpdateRequest).model_dump(exclude_none=True)
    return json_response(SettingsResponse.of(settings.update(tenant, changes, clock.now())))


@route(bp, "/v1/keys/rotate", ["POST"])
def rotate_key():
    tenant = auth.tenant_admin(_headers())
    request = _body(KeyRotateRequest)
    kind = KeyKind.API if request.kind == "api" else KeyKind.ACTIVATION
    return json_response(KeyRotatedResponse(kind=request.kind, key=keys.rotate(tenant, kind, clock.now())), 201)


# Usage: the tenant's own, or every tenant's for the operator -----------------------------------


def _type_usage(month) -> list[LicenseTypeUsageResponse]:
    return [LicenseTypeUsageResponse(**t.__dict__) for t in month.license_types]


@route(bp, "/v1/usage", ["GET"])
def get_usage():
    tenant = auth.tenant_admin_or_operator(_headers())
    month = _query(UsageQuery).month
    if tenant is None:
        return json_response(OperatorUsageResponse(month=month, tenants=[
            TenantUsageResponse(tenant_id=m.tenant_id, name=m.tenant_name, license_types=_type_usage(m))
            for m in usage.every_tenant(month)]))
    report = usage.month_of_use(tenant, month)
    return json_response(UsageResponse(month=month, license_types=_type_usage(report),
                                       hours=[HourResponse(**h.__dict__) for h in report.hours]))


@route(bp, "/v1/usage.csv", ["GET"])
def get_usage_csv():
    tenant = auth.tenant_admin_or_operator(_headers())
    month = _query(UsageQuery).month
    months = usage.every_tenant(month) if tenant is None else [usage.month_of_use(tenant, month)]
    return Response(body=usage.as_csv(months), status_code=200, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="usage-{month}.csv"'})
