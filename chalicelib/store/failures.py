"""DynamoDB's failures in the domain's words.

Every public operation of the store is ``@dynamodb``: a failure that means "not now" (throttling,
a conflicting transaction, a timeout, no answer at all) becomes ``DomainError(UNAVAILABLE)``, for
the routes (503 with Retry-After) and the schedules (the invocation fails and is retried) alike.
Anything else is a bug or a misconfiguration and goes on as it is (a 500, the detail in the log).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib.domain.errors import Code, DomainError
from chalicelib.observability import logger

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


def is_transient(exc: BaseException) -> bool:
    """A dependency's passing failure: throttling, a conflicting transaction, a timeout."""
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


_FAILURES = (PynamoDBException, BotoCoreError, ClientError)


def _unavailable(e: BaseException) -> DomainError:
    logger.warning("dependency unavailable", extra={"error": repr(e)})
    return DomainError(Code.UNAVAILABLE)


def dynamodb[F: Callable[..., Any]](operation: F) -> F:
    """A store operation whose passing DynamoDB failures are ``DomainError(UNAVAILABLE)``
    (generators too: the failure surfaces where the caller iterates)."""
    if inspect.isgeneratorfunction(operation):

        @functools.wraps(operation)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from operation(*args, **kwargs)
            except _FAILURES as e:
                if is_transient(e):
                    raise _unavailable(e) from e
                raise

        return generator  # type: ignore[return-value]

    @functools.wraps(operation)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except _FAILURES as e:
            if is_transient(e):
                raise _unavailable(e) from e
            raise

    return call  # type: ignore[return-value]


@contextmanager
def aws_call() -> Iterator[None]:
    """The same classification around any other AWS call of the service (reading the signing
    keys from Secrets Manager): "not now" is UNAVAILABLE, anything else goes on as it is."""
    try:
        yield
    except _FAILURES as e:
        if is_transient(e):
            raise _unavailable(e) from e
        raise
