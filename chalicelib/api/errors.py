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
    Code.METHOD_NOT_ALLOWED: 405,
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


# A transaction cancelled for these reasons may pass on a retry; a failed condition will not.
TRANSIENT_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


def error_response(error: DomainError, headers: dict[str, str] | None = None) -> Response:
    status = STATUS[error.code]
    headers = {**(headers or {}), "Content-Type": "application/json"}
    if status in (429, 503):
        headers["Retry-After"] = str(error.detail.get("retry_after_s", RETRY_AFTER_S))
    body = {"error": {"code": str(error.code), "message": error.message, "detail": error.detail}}
    return Response(body=body, status_code=status, headers=headers)


def is_transient(exc: Exception) -> bool:
    """A dependency's passing failure: throttling, a conflicting transaction, a timeout."""
    from botocore.exceptions import BotoCoreError, ClientError

    cause = exc.cause if isinstance(exc, PynamoDBException) else exc
    if isinstance(cause, ClientError):
        code = cause.response.get("Error", {}).get("Code")
        if code == "TransactionCanceledException":
            # PynamoDB keeps the reasons on its error, botocore in the response.
            reasons = [r.code for r in getattr(cause, "cancellation_reasons", None) or [] if r is not None]
            reasons += [r.get("Code") for r in cause.response.get("CancellationReasons") or []]
            return bool(TRANSIENT_REASONS & set(reasons))
        return code in TRANSIENT_CAUSES
    # No answer at all: the connection failed or timed out (botocore's own errors).
    return isinstance(cause, BotoCoreError)
