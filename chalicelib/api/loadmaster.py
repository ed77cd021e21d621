"""The LoadMaster's endpoints: which license types, activate, confirm."""

from __future__ import annotations

import re

from chalice import Blueprint

from chalicelib import clock
from chalicelib.api.http import json_response, route
from chalicelib.api.schemas import (
    ActivationRequest,
    ActivationResponse,
    CheckInRequest,
    CheckInResponse,
    DeviceResponse,
    LicenseTypesResponse,
    LoadMasterRequest,
)
from chalicelib.domain.errors import Code, DomainError
from chalicelib.domain.model import Tenant
from chalicelib.security.tokens import DeviceCredential
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
def license_types(caller: Tenant, body: LoadMasterRequest):
    types = activation.license_types_for(caller, body.loadmaster(), clock.now())
    return json_response(LicenseTypesResponse(license_types=types))


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
def activate(caller: Tenant, body: ActivationRequest):
    result = activation.activate(
        caller, body.loadmaster(), body.lic_type_id, idempotency_key=_idempotency_key(), now=clock.now()
    )
    return json_response(
        ActivationResponse.model_validate(result), 201, {"Idempotent-Replayed": "true"} if result.replayed else None
    )


@route(
    bp,
    "/v1/devices/{device_id}/confirm",
    ["POST"],
    summary="Confirm: PENDING becomes ACTIVE (seed step 9)",
    auth="device",
    response=DeviceResponse,
)
def confirm(device_id: str, caller: DeviceCredential):
    return json_response(DeviceResponse.model_validate(activation.confirm(caller, device_id, clock.now())))


@route(
    bp,
    "/v1/devices/{device_id}/check-ins",
    ["POST"],
    summary="Periodic activation check: a fresh lease",
    auth="device",
    body=CheckInRequest,
    response=CheckInResponse,
)
def check_ins(device_id: str, caller: DeviceCredential, body: CheckInRequest):
    result = check_in.check_in(
        caller, device_id, mac=body.mac, ip=body.ip, port=body.port, version=body.version, now=clock.now()
    )
    return json_response(CheckInResponse.model_validate(result))


@route(
    bp,
    "/v1/devices/{device_id}/deactivate",
    ["POST"],
    summary="Give the instance back",
    auth="device",
    response=DeviceResponse,
)
def deactivate(device_id: str, caller: DeviceCredential):
    return json_response(DeviceResponse.model_validate(check_in.deactivate(caller, device_id, clock.now())))
