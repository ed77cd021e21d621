"""The one table from domain error codes to HTTP, and the error body of the contract."""

from __future__ import annotations

from chalice import Response
from pynamodb.exceptions import PynamoDBException

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
    Code.VALIDATION_ERROR: 400,
    Code.CONFLICT: 409,
    Code.DEVICE_DEACTIVATED: 410,
    Code.RATE_LIMITED: 429,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
}

RETRY_AFTER_S = 1

# DynamoDB answers that mean "not now", not "no": the client should retry.
TRANSIENT_CAUSES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "ServiceUnavailable",
}


def error_response(error: DomainError) -> Response:
    status = STATUS[error.code]
    headers = {"Content-Type": "application/json"}
    if status in (429, 503):
        headers["Retry-After"] = str(error.detail.get("retry_after_s", RETRY_AFTER_S))
    body = {"error": {"code": str(error.code), "message": error.message, "detail": error.detail}}
    return Response(body=body, status_code=status, headers=headers)


def is_transient(exc: Exception) -> bool:
    """A dependency's passing failure: throttling, a conflicting transaction, a timeout."""
    if isinstance(exc, PynamoDBException):
        cause = exc.cause_response_code
        if cause in TRANSIENT_CAUSES:
            return True
        if cause == "TransactionCanceledException":
            reasons = getattr(exc, "cancellation_reasons", None) or []
            return any(r is not None and r.code in {"TransactionConflict", "ThrottlingError",
                                                    "ProvisionedThroughputExceeded"} for r in reasons)
        # No response at all: the connection failed or timed out.
        return cause is None
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):  # the check-in speaks to botocore directly
        return exc.response.get("Error", {}).get("Code") in TRANSIENT_CAUSES
    return isinstance(exc, BotoCoreError)
