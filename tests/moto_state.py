"""moto's state as a new mock has it, without making the tables again in every test: creating
eight tables with their indexes and TTL costs more than the average test itself, so the tables
one test made are kept, emptied, for the next (``tests/conftest.py``'s ``aws``). Everything else
(Cognito, EventBridge, Secrets Manager, ...) is reset as moto resets it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from moto import mock_aws
from moto.core.base_backend import BackendDict
from moto.core.custom_responses_mock import reset_responses_mock
from moto.core.model_instances import reset_model_data
from moto.core.models import DEFAULT_ACCOUNT_ID, responses_mock
from moto.dynamodb.models import dynamodb_backends


@contextmanager
def mocked() -> Iterator[None]:
    """In-process moto that keeps its data when it stops (the next test empties it). boto3's
    default session is kept too (moto would make a new one), so each client's service model is
    read once per process, not once per test."""
    mock = mock_aws(config={"core": {"reset_boto3_session": False}})
    mock.start(reset=False)
    try:
        yield
    finally:
        mock.stop(remove_data=False)
        # What stopping with remove_data does besides resetting the services: forget the HTTP
        # routes this start added and moto's references to every object made (every item).
        reset_responses_mock(responses_mock)
        reset_model_data()


def start_afresh(region: str, table_names: Iterable[str]) -> bool:
    """Reset every service but DynamoDB; drop any other table and empty these (in ``region`` of
    moto's default account). True when all of them exist (nothing is left to create), as after
    the previous test; False after a test that used a moto of its own (its reset dropped them)."""
    # moto's own list of the services in use (BackendDict.reset resets all of them, tables too).
    for backends in list(BackendDict._instances):
        if backends is not dynamodb_backends:
            for account in backends.values():
                account.reset()
            backends.clear()
    wanted, found = set(table_names), set()
    for account_id, account in dynamodb_backends.items():
        for region_name, backend in account.items():
            for name in list(backend.tables):
                if name in wanted and (account_id, region_name) == (DEFAULT_ACCOUNT_ID, region):
                    backend.tables[name].items.clear()
                    found.add(name)
                else:
                    del backend.tables[name]
    return found == wanted
