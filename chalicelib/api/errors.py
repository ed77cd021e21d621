"""The one table from domain error codes to HTTP, and the error body of the contract."""

from __future__ import annotations

from collections.abc import Mapping

from chalice import Response

from chalicelib.domain.errors import Code, DomainError

STATUS: dict[Code, int] = {
    Code.INVALID_INITIALIZATION: 400,
    Code.TRIAL_EXPIRED: 403,
    Code.VERIFY_FAILED: 401,
    Code.DEVICE_BLOCKED: 403,
    Code.UNKNOWN_DEVICE: 404,
    Code.TRIAL_CONFLICT: 409,
    Code.DUPLICATE_ADDRESS: 409,
    Code.UUID_GENERATION_FAILED: 503,
    Code.CENTRAL_UNLICENSED: 403,
    Code.INSTANCE_LIMIT_REACHED: 409,
    Code.INVALID_LICENSE_TYPE: 400,
    Code.NO_LOCAL_LICENSE: 404,
    Code.NO_LICENSE_FOR_SKU: 404,
    Code.UNAUTHORIZED: 401,
    Code.FORBIDDEN: 403,
    Code.NOT_FOUND: 404,
    Code.METHOD_NOT_ALLOWED: 405,
    Code.VALIDATION_ERROR: 400,
    Code.CONFLICT: 409,
    Code.DEVICE_DEACTIVATED: 410,
    Code.RATE_LIMITED: 429,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
}

RETRY_AFTER_S = 1


def error_response(error: DomainError, headers: Mapping[str, str | list[str]] | None = None) -> Response:
    status = STATUS[error.code]
    all_headers: dict[str, str | list[str]] = {**(headers or {}), "Content-Type": "application/json"}
    if status in (429, 503):
        all_headers["Retry-After"] = str(error.detail.get("retry_after_s", RETRY_AFTER_S))
    body = {"error": {"code": str(error.code), "message": error.message, "detail": error.detail}}
    return Response(body=body, status_code=status, headers=all_headers)
