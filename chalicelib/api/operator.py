"""The operator's endpoints (``Authorization: Bearer <operator key>``)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import clock
from chalicelib.api.http import decode_cursor, encode_cursor, json_response, parse_body, parse_query, route
from chalicelib.api.schemas import (
    ContractRequest,
    OwnerRequest,
    PageQuery,
    TenantCreatedResponse,
    TenantCreateRequest,
    TenantResponse,
    TenantsResponse,
    TerminatedResponse,
    TrialRequest,
)
from chalicelib.security import auth
from chalicelib.services import tenants

bp = Blueprint(__name__)

_CURSOR_SCOPE = "operator:tenants"


def _tenant_view(tenant) -> TenantResponse:
    return TenantResponse.of(tenants.with_effective_state(tenant, clock.now()))


@route(
    bp,
    "/v1/tenants",
    ["POST"],
    summary="Create a tenant (keys shown once)",
    auth="operator",
    body=TenantCreateRequest,
    response=TenantCreatedResponse,
    status=201,
)
def create_tenant():
    auth.operator(bp.current_request.headers)
    request = parse_body(bp.current_request.raw_body, TenantCreateRequest)
    created = tenants.create_tenant(request.name, request.owner_email, clock.now())
    body = TenantCreatedResponse(
        api_key=created.api_key, activation_key=created.activation_key, **TenantResponse.of(created.tenant).model_dump()
    )
    return json_response(body, 201)


@route(bp, "/v1/tenants", ["GET"], summary="List tenants", auth="operator", query=PageQuery, response=TenantsResponse)
def list_tenants():
    auth.operator(bp.current_request.headers)
    page = parse_query(bp.current_request.query_params, PageQuery)
    found, last_key = tenants.list_tenants(page.limit, decode_cursor(page.next, _CURSOR_SCOPE))
    return json_response(
        TenantsResponse(tenants=[_tenant_view(t) for t in found], next=encode_cursor(last_key, _CURSOR_SCOPE))
    )


@route(bp, "/v1/tenants/{tenant_id}", ["GET"], summary="Read a tenant", auth="operator", response=TenantResponse)
def get_tenant(tenant_id: str):
    auth.operator(bp.current_request.headers)
    return json_response(_tenant_view(tenants.get_tenant(tenant_id)))


@route(
    bp,
    "/v1/tenants/{tenant_id}/trial",
    ["POST"],
    summary="Start the tenant's one trial",
    auth="operator",
    body=TrialRequest,
    response=TenantResponse,
    status=201,
)
def start_trial(tenant_id: str):
    auth.operator(bp.current_request.headers)
    request = parse_body(bp.current_request.raw_body, TrialRequest)
    tenant = tenants.start_trial(
        tenant_id, days=request.days, instances=request.instances, skus=request.skus, now=clock.now()
    )
    return json_response(_tenant_view(tenant), 201)


@route(
    bp,
    "/v1/tenants/{tenant_id}/contracts",
    ["POST"],
    summary="Apply a Metered Licensing contract",
    auth="operator",
    body=ContractRequest,
    response=TenantResponse,
    status=201,
)
def apply_contract(tenant_id: str):
    auth.operator(bp.current_request.headers)
    request = parse_body(bp.current_request.raw_body, ContractRequest)
    tenant = tenants.apply_contract(
        tenant_id,
        contract_id=request.contract_id,
        capacity=request.capacity,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        now=clock.now(),
    )
    return json_response(_tenant_view(tenant), 201)


@route(
    bp,
    "/v1/tenants/{tenant_id}/terminate",
    ["POST"],
    summary="Terminate the contract: every device deactivated",
    auth="operator",
    response=TerminatedResponse,
)
def terminate(tenant_id: str):
    auth.operator(bp.current_request.headers)
    tenant, deactivated = tenants.terminate(tenant_id, clock.now())
    return json_response(TerminatedResponse(devices_deactivated=deactivated, **_tenant_view(tenant).model_dump()))


@route(
    bp,
    "/v1/tenants/{tenant_id}/owner",
    ["POST"],
    summary="Change of ownership",
    auth="operator",
    body=OwnerRequest,
    response=TenantResponse,
)
def change_owner(tenant_id: str):
    auth.operator(bp.current_request.headers)
    request = parse_body(bp.current_request.raw_body, OwnerRequest)
    return json_response(_tenant_view(tenants.change_owner(tenant_id, request.owner_email, clock.now())))
