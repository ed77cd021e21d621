"""The LoadMaster's endpoints: which license types, activate, confirm."""

from __future__ import annotations

import re

from chalice import Blueprint

from chalicelib import clock
from chalicelib.api.http import json_response, parse_body, route
from chalicelib.api.schemas import (
    ActivationRequest,
    ActivationResponse,
    CheckInRequest,
    CheckInResponse,
    DeviceResponse,
    LicenseTypeResponse,
    LicenseTypesResponse,
    LoadMasterRequest,
)
from chalicelib.domain.errors import Code, DomainError
from chalicelib.security import auth
from chalicelib.services import activation, check_in

bp = Blueprint(__name__)

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _idempotency_key() -> str | None:
    value = bp.current_request.headers.get("idempotency-key")
    if value is None:
        return None
    # fullmatch: with match, "$" also matches before a trailing newline, which would let one in.
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        fields = {"Idempotency-Key": "1-128 of A-Z a-z 0-9 . _ : -"}
        raise DomainError(Code.INVALID_INITIALIZATION, detail={"fields": fields})
    return value


@route(
    bp,
    "/v1/activation/license-types",
    ["POST"],
    summary="License types this LoadMaster may take (seed step 6)",
    auth="activation",
    body=LoadMasterRequest,
    response=LicenseTypesResponse,
)
def license_types():
    tenant = auth.activation(bp.current_request.headers)
    lm = parse_body(bp.current_request.raw_body, LoadMasterRequest, loadmaster=True).loadmaster()
    types = activation.license_types_for(tenant, lm, clock.now())
    return json_response(LicenseTypesResponse(license_types=[LicenseTypeResponse.of(t) for t in types]))


@route(
    bp,
    "/v1/activations",
    ["POST"],
    summary="Activate: take one instance (seed step 7)",
    auth="activation",
    body=ActivationRequest,
    response=ActivationResponse,
    status=201,
    headers=("Idempotency-Key",),
)
def activate():
    tenant = auth.activation(bp.current_request.headers)
    request = parse_body(bp.current_request.raw_body, ActivationRequest, loadmaster=True)
    result = activation.activate(
        tenant, request.loadmaster(), request.lic_type_id, idempotency_key=_idempotency_key(), now=clock.now()
    )
    body = ActivationResponse(
        device_id=result.device.device_id,
        status=str(result.device.status),
        device_token=result.device_token,
        confirm_by=result.device.confirm_by,
        license=result.lease.token,
        lease_expires_at=result.lease.expires_at,
    )
    return json_response(body, 201, {"Idempotent-Replayed": "true"} if result.replayed else None)


@route(
    bp,
    "/v1/devices/{device_id}/confirm",
    ["POST"],
    summary="Confirm: PENDING becomes ACTIVE (seed step 9)",
    auth="device",
    response=DeviceResponse,
)
def confirm(device_id: str):
    credential = auth.device(bp.current_request.headers, device_id)
    return json_response(DeviceResponse.of(activation.confirm(credential, device_id, clock.now())))


@route(
    bp,
    "/v1/devices/{device_id}/check-ins",
    ["POST"],
    summary="Periodic activation check: a fresh lease",
    auth="device",
    body=CheckInRequest,
    response=CheckInResponse,
)
def check_ins(device_id: str):
    credential = auth.device(bp.current_request.headers, device_id)
    request = parse_body(bp.current_request.raw_body, CheckInRequest, loadmaster=True)
    result = check_in.check_in(
        credential,
        device_id,
        mac=request.mac,
        ip=request.ip,
        port=request.port,
        version=request.version,
        now=clock.now(),
    )
    return json_response(
        CheckInResponse(
            status=str(result.device.status),
            license=result.lease.token,
            lease_expires_at=result.lease.expires_at,
            next_check_in_after=result.next_check_in_after,
            device_token=result.device_token,
        )
    )


@route(
    bp,
    "/v1/devices/{device_id}/deactivate",
    ["POST"],
    summary="Give the instance back",
    auth="device",
    response=DeviceResponse,
)
def deactivate(device_id: str):
    credential = auth.device(bp.current_request.headers, device_id)
    return json_response(DeviceResponse.of(check_in.deactivate(credential, device_id, clock.now())))
