"""The store: PynamoDB models, the transactions that keep the invariants, and conversion to
domain objects. Nothing outside this package touches DynamoDB, PynamoDB or botocore: it offers
operations in the domain's words, returns domain objects and raises domain errors
(``chalicelib.store.failures``)."""

from __future__ import annotations

from chalicelib.observability import logger
from chalicelib.settings import Settings


def configure(settings: Settings) -> None:
    """Bind the models to the stage's tables, region and endpoint; connections are made afresh."""
    from chalicelib.store import identity, models, transaction

    models.bind(settings)
    transaction.reset_connection(settings)
    identity.reset_client()


def connect() -> None:
    """Make every DynamoDB client now rather than at first use (threads sharing one process
    would otherwise race to make them)."""
    from chalicelib.store import models, transaction

    for model in models.ALL_MODELS:
        assert model._get_connection().connection.client is not None
    assert transaction.connection().client is not None


def create_tables() -> list[str]:
    """Create every table the service uses (with its indexes and TTL); what exists is left as it
    is. Returns the names of the tables created. The accounts' user pool is ``create_user_pool``'s."""
    from chalicelib.store.models import ALL_MODELS

    created = []
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
    return created


def create_user_pool() -> tuple[str, str]:
    """The stage's Cognito user pool of accounts and its app client, made as the stack makes
    them (``<TABLE_PREFIX>accounts``), or found when they exist: (pool id, client id), which the
    app reads from COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID. For moto (the local stack and
    the tests); in AWS the stack makes them."""
    from chalicelib.settings import get_settings
    from chalicelib.store import identity

    return identity.create_user_pool(f"{get_settings().table_prefix}accounts")


def table_names() -> list[str]:
    """The full name of every table, as configured."""
    from chalicelib.store.models import ALL_MODELS

    return [model.Meta.table_name for model in ALL_MODELS]


def ping() -> bool:
    """DynamoDB answers for the tenants table (health reports it; it never fails a request)."""
    from chalicelib.store.models import TenantItem

    try:
        TenantItem.describe_table()
    except Exception as e:  # health reports, it does not fail
        logger.warning("health: dynamodb unreachable", extra={"error": repr(e)})
        return False
    return True
