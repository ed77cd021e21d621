"""The operator's endpoints (``Authorization: Bearer <operator key>``)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import clock
from chalicelib.api.http import decode_cursor, encode_cursor, json_response, route
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
from chalicelib.services import tenants

bp = Blueprint(__name__)

_CURSOR_SCOPE = "operator:tenants"


def _tenant_view(tenant) -> TenantResponse:
    return TenantResponse.model_validate(tenants.with_effective_state(tenant, clock.now()))


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
def create_tenant(body: TenantCreateRequest):
    created = tenants.create_tenant(body.name, body.owner_email, clock.now())
    return json_response(
        TenantCreatedResponse(
            api_key=created.api_key,
            activation_key=created.activation_key,
            **TenantResponse.model_validate(created.tenant).model_dump(),
        ),
        201,
    )


@route(bp, "/v1/tenants", ["GET"], summary="List tenants", auth="operator", query=PageQuery, response=TenantsResponse)
def list_tenants(query: PageQuery):
    found, last_key = tenants.list_tenants(query.limit, decode_cursor(query.next, _CURSOR_SCOPE))
    return json_response(
        TenantsResponse(tenants=[_tenant_view(t) for t in found], next=encode_cursor(last_key, _CURSOR_SCOPE))
    )


@route(bp, "/v1/tenants/{tenant_id}", ["GET"], summary="Read a tenant", auth="operator", response=TenantResponse)
def get_tenant(tenant_id: str):
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
def start_trial(tenant_id: str, body: TrialRequest):
    tenant = tenants.start_trial(tenant_id, days=body.days, instances=body.instances, skus=body.skus, now=clock.now())
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
def apply_contract(tenant_id: str, body: ContractRequest):
    tenant = tenants.apply_contract(
        tenant_id,
        contract_id=body.contract_id,
        capacity=body.capacity,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
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
def change_owner(tenant_id: str, body: OwnerRequest):
    return json_response(_tenant_view(tenants.change_owner(tenant_id, body.owner_email, clock.now())))
