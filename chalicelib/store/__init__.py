"""The store: PynamoDB models, the transactions that keep the invariants, and conversion to
domain objects. Nothing outside this package touches DynamoDB."""

from __future__ import annotations


def create_tables() -> list[str]:
    """Create every table the service uses (with its indexes and TTL); a table that exists is
    left as it is. Returns the names of the tables created."""
    from chalicelib.store.models import ALL_MODELS

    created = []
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
            created.append(model.Meta.table_name)
    return created
