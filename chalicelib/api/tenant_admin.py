"""The tenant administrator's endpoints (``Authorization: Bearer <tenant api key>``)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import clock
from chalicelib.api.http import json_response, parse_body, route
from chalicelib.api.schemas import (
    LicenseStateResponse,
    LicenseTypeCreateRequest,
    LicenseTypeResponse,
    LicenseTypesResponse,
    LicenseTypeUpdateRequest,
)
from chalicelib.security import auth
from chalicelib.services import license_types
from chalicelib.services.tenants import with_effective_state

bp = Blueprint(__name__)


@route(bp, "/v1/license", ["GET"])
def license_state():
    tenant = auth.tenant_admin(bp.current_request.headers)
    return json_response(LicenseStateResponse.of(with_effective_state(tenant, clock.now())))


@route(bp, "/v1/license-types", ["GET"])
def list_license_types():
    tenant = auth.tenant_admin(bp.current_request.headers)
    types = license_types.list_license_types(tenant)
    return json_response(LicenseTypesResponse(license_types=[LicenseTypeResponse.of(t) for t in types]))


@route(bp, "/v1/license-types", ["POST"])
def create_license_type():
    tenant = auth.tenant_admin(bp.current_request.headers)
    request = parse_body(bp.current_request.raw_body, LicenseTypeCreateRequest)
    created = license_types.create_license_type(tenant, name=request.name, sku=request.sku,
                                                capacity=request.capacity, now=clock.now())
    return json_response(LicenseTypeResponse.of(created), 201)


@route(bp, "/v1/license-types/{lic_type_id}", ["GET"])
def get_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(bp.current_request.headers)
    return json_response(LicenseTypeResponse.of(license_types.get_license_type(tenant, lic_type_id)))


@route(bp, "/v1/license-types/{lic_type_id}", ["PATCH"])
def update_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(bp.current_request.headers)
    request = parse_body(bp.current_request.raw_body, LicenseTypeUpdateRequest)
    updated = license_types.update_license_type(tenant, lic_type_id, name=request.name, capacity=request.capacity)
    return json_response(LicenseTypeResponse.of(updated))


@route(bp, "/v1/license-types/{lic_type_id}", ["DELETE"])
def delete_license_type(lic_type_id: str):
    tenant = auth.tenant_admin(bp.current_request.headers)
    license_types.delete_license_type(tenant, lic_type_id)
    return json_response({"deleted": lic_type_id})
