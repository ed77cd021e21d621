"""DynamoDB's accounting: item sizes, write units and index writes, as the Developer Guide gives them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


def attribute_value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB bills for one attribute value (Item sizes, in the Developer Guide)."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = Decimal(v).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(v.encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(attribute_value_size({"N": n}) for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(attribute_value_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_value_size(e) + 1 for k, e in v.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item in DynamoDB's wire format: names plus values."""
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


def write_units(size: int, transactional: bool = False) -> int:
    return math.ceil(max(size, 1) / 1024) * (2 if transactional else 1)


@dataclass(frozen=True)
class IndexShape:
    """A global secondary index as deployed: its keys and what it projects."""

    name: str
    hash_key: str
    range_key: str | None
    projection: frozenset[str] | None  # None: ALL

    def holds(self, item: dict | None) -> bool:
        return item is not None and self.hash_key in item and (self.range_key is None or self.range_key in item)

    def key(self, item: dict) -> tuple:
        return item[self.hash_key], item.get(self.range_key) if self.range_key else None

    def projected(self, item: dict, table_keys: tuple[str, ...]) -> dict:
        if self.projection is None:
            return item
        names = {self.hash_key, *table_keys, *self.projection} | ({self.range_key} if self.range_key else set())
        return {k: v for k, v in item.items() if k in names}

    def writes(self, old: dict | None, new: dict | None, table_keys: tuple[str, ...]) -> int:
        """Index writes caused by a table write from ``old`` to ``new`` (Developer Guide, "Provisioned
        throughput considerations for global secondary indexes"): 1 to put or delete an entry, 2 when
        an index key changes (delete and put), 1 when only projected attributes change, else 0."""
        before, after = self.holds(old), self.holds(new)
        if not before and not after:
            return 0
        if before != after:
            return 1
        if self.key(old) != self.key(new):
            return 2
        return int(self.projected(old, table_keys) != self.projected(new, table_keys))


def index_shapes(model) -> list[IndexShape]:
    """The model's global secondary indexes, from the same schema ``create_tables`` deploys."""
    shapes = []
    for index in model._get_schema().get("global_secondary_indexes", []):
        keys = {k["KeyType"]: k["AttributeName"] for k in index["key_schema"]}
        projection = index["projection"]
        included = None if projection["ProjectionType"] == "ALL" else frozenset(projection.get("NonKeyAttributes", []))
        shapes.append(IndexShape(index["index_name"], keys["HASH"], keys.get("RANGE"), included))
    return shapes


def table_keys(model) -> tuple[str, ...]:
    return tuple(k["AttributeName"] for k in model._get_schema()["key_schema"])


def raw_item(model, *key) -> dict | None:
    """An item as stored, in DynamoDB's wire format. A GetItem like any other: call it outside
    the call log being measured."""
    return model._get_connection().get_item(*key).get("Item")
