"""A labelled DynamoDB transaction.

PynamoDB sends a transaction's items grouped as condition checks, deletes, puts, updates, and a
cancellation lists one reason per item in that order, not in the order they were added. This
wrapper keeps the label of each item in the same grouping so a cancellation says which of *our*
conditions failed.
"""

from __future__ import annotations

import uuid
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.settings import Settings, get_settings

_connection: Connection | None = None


def connection() -> Connection:
    global _connection
    if _connection is None:
        settings = get_settings()
        _connection = Connection(
            region=settings.region,
            host=settings.aws_endpoint_url,
            connect_timeout_seconds=2,
            read_timeout_seconds=5,
            max_retry_attempts=3,
        )
    return _connection


def reset_connection(settings: Settings) -> None:
    """Forget the connection when ``configure`` moves it to another region or endpoint; one that
    stays where it was keeps its client, as the models' connections do (``models.bind``)."""
    global _connection
    if _connection is not None and (_connection.region, _connection.host) != (
        settings.region,
        settings.aws_endpoint_url,
    ):
        _connection = None


def failed_condition(e: PynamoDBException) -> bool:
    """The write was refused by its condition (not throttled, not lost in a timeout). Safe for
    every cause: PynamoDB's own ``cause_response_code`` fails on a timeout, which has no answer."""
    response = getattr(e.cause, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def update_if(item: Any, actions: list[Any], condition: Any) -> bool:
    """One conditional UpdateItem; False (nothing written) when its condition refused it."""
    try:
        item.update(actions, condition=condition)
    except UpdateError as e:
        if failed_condition(e):
            return False
        raise
    return True


class TransactionCancelled(Exception):
    def __init__(self, failed: set[str], cause: TransactWriteError) -> None:
        super().__init__(f"transaction cancelled: {sorted(failed)}")
        self.failed = failed
        self.cause = cause


class Transaction:
    def __init__(self) -> None:
        # A request token makes botocore's own retries of this transaction (a lost response,
        # a timeout) idempotent on DynamoDB's side for ten minutes.
        self._tx = TransactWrite(connection=connection(), client_request_token=uuid.uuid4().hex)
        self._labels: dict[str, list[str]] = {"check": [], "delete": [], "put": [], "update": []}

    def check(self, label: str, model_cls: Any, hash_key: Any, range_key: Any = None, *, condition: Any) -> None:
        self._tx.condition_check(model_cls, hash_key, range_key, condition=condition)
        self._labels["check"].append(label)

    def delete(self, label: str, item: Any, *, condition: Any = None) -> None:
        self._tx.delete(item, condition=condition)
        self._labels["delete"].append(label)

    def put(self, label: str, item: Any, *, condition: Any = None) -> None:
        self._tx.save(item, condition=condition)
        self._labels["put"].append(label)

    def update(self, label: str, item: Any, actions: list[Any], *, condition: Any = None) -> None:
        self._tx.update(item, actions, condition=condition)
        self._labels["update"].append(label)

    def commit(self) -> None:
        labels = [*self._labels["check"], *self._labels["delete"], *self._labels["put"], *self._labels["update"]]
        try:
            with self._tx:
                pass  # leaving the block commits
        except TransactWriteError as e:
            reasons = e.cancellation_reasons or []
            failed = {
                label
                for label, reason in zip(labels, reasons, strict=False)
                if reason is not None and reason.code == "ConditionalCheckFailed"
            }
            if not failed:
                # Throttling, a conflicting transaction, a validation error: not a rule.
                raise
            raise TransactionCancelled(failed, e) from e

    def commit_if_current(self, *labels: str) -> bool:
        """Commit; False (nothing written) when one of ``labels``' conditions failed, that is
        when what they guard moved since it was read. Any other failed condition raises."""
        try:
            self.commit()
        except TransactionCancelled as e:
            if e.failed & set(labels):
                return False
            raise
        return True
