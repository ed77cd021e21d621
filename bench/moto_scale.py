"""moto at fleet scale: cheaper bookkeeping, the same DynamoDB requests and answers."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table


@contextlib.contextmanager
def fast_transactions() -> Iterator[None]:
    """moto's TransactWriteItems deep-copies every table it touches, to roll back on a refusal: at
    100 000 devices that is seconds per transaction. This keeps moto's semantics by snapshotting
    only the items the transaction names, and restoring them if it is refused. DynamoDB requests
    and their counts are unchanged; only moto's bookkeeping is cheaper."""
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        snapshots = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            raw = op["Item"] if op_type == "Put" else op.get("Key", {})
            if table.hash_key_attr not in raw:
                continue
            hash_key = DynamoType(raw[table.hash_key_attr])
            range_key = DynamoType(raw[table.range_key_attr]) if table.range_key_attr else None
            if table.range_key_attr and table.range_key_attr not in raw:
                continue
            snapshots.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        Table.__deepcopy__ = lambda table, memo: table  # the original's whole-table backup: skipped
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(snapshots):
                if range_key is None:
                    table.items.pop(hash_key, None) if item is None else table.items.__setitem__(hash_key, item)
                elif item is None:
                    table.items.get(hash_key, {}).pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = item
            raise
        finally:
            del Table.__deepcopy__

    DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original
