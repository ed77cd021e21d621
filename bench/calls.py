"""The call log: every AWS call the app makes while a log is active, as botocore made it. One
recorder for the benchmarks' call counts and the tests that count or authorise calls
(``tests/service/test_least_privilege.py``, ``test_check_in.py``, ``test_sweeps.py``)."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass
from typing import Any

import botocore.client

from chalicelib.settings import get_settings

READ_OPS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITE_OPS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


@dataclass
class Call:
    """One AWS API call as botocore made it (retries inside botocore are not separate calls)."""

    service: str
    operation: str
    params: dict[str, Any]
    table: str | None = None
    index: str | None = None
    scanned: int | None = None  # Query/Scan: items read (ScannedCount), what the request is billed on
    returned: int | None = None  # Query/Scan: items returned (Count)
    error: str | None = None
    signed: bool = True  # False for the calls botocore sends unsigned (Cognito's SignUp...): no IAM grant

    @property
    def label(self) -> str:
        """``Operation(table[/index])``, table names without the stage prefix."""
        if self.operation in ("TransactWriteItems", "TransactGetItems"):
            tables = sorted({_short(next(iter(i.values()))["TableName"]) for i in self.params.get("TransactItems", [])})
            return f"{self.operation}({','.join(tables)}; {len(self.params.get('TransactItems', []))} items)"
        where = self.table or ""
        if self.index:
            where += f"/{self.index}"
        return f"{self.operation}({where})" if where else self.operation


def _short(table: str | None) -> str | None:
    """The table's name without the configured stage prefix."""
    prefix = get_settings().table_prefix
    return table[len(prefix) :] if table and table.startswith(prefix) else table


class CallLog:
    """Every AWS call made while it is active, by patching ``BaseClient._make_api_call``. Logs
    nest: an inner log's calls are also the outer's."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._original: Any = None

    def __enter__(self) -> CallLog:
        self._original = original = botocore.client.BaseClient._make_api_call
        log = self

        def recording(client, operation, params):
            model = client.meta.service_model
            call = Call(
                model.service_name,
                operation,
                copy.deepcopy(params),
                _short(params.get("TableName")),
                params.get("IndexName"),
                signed=model.operation_model(operation).auth_type != "none",
            )
            log.calls.append(call)
            try:
                response = original(client, operation, params)
            except Exception as e:
                call.error = type(e).__name__
                if hasattr(e, "response"):
                    call.error = e.response.get("Error", {}).get("Code", call.error)
                raise
            if operation in ("Query", "Scan"):
                call.scanned, call.returned = response.get("ScannedCount"), response.get("Count")
            return response

        botocore.client.BaseClient._make_api_call = recording
        return self

    def __exit__(self, *exc) -> None:
        botocore.client.BaseClient._make_api_call = self._original

    def clear(self) -> None:
        self.calls.clear()

    def dynamodb(self) -> list[Call]:
        return [c for c in self.calls if c.service == "dynamodb"]

    def ops(self) -> list[str]:
        """The DynamoDB operations, in order."""
        return [c.operation for c in self.dynamodb()]

    def labels(self) -> list[str]:
        return [c.label for c in self.dynamodb()]

    def reads(self) -> list[Call]:
        return [c for c in self.dynamodb() if c.operation in READ_OPS]

    def writes(self) -> list[Call]:
        return [c for c in self.dynamodb() if c.operation in WRITE_OPS]

    def other_services(self) -> list[str]:
        return [f"{c.service}:{c.operation}" for c in self.calls if c.service != "dynamodb"]

    def items_read(self, operation: str | None = None) -> int:
        """Items read by Query and Scan calls (their ScannedCount)."""
        return sum(
            c.scanned or 0
            for c in self.dynamodb()
            if c.operation in ("Query", "Scan") and (operation is None or c.operation == operation)
        )

    def count(self) -> Counter[str]:
        return Counter(self.ops())


def compact(labels: list[str]) -> str:
    """Consecutive repeats folded: ``8 x Query(devices/silent-due), TransactWriteItems(...)``."""
    runs: list[list] = []
    for label in labels:
        if runs and runs[-1][0] == label:
            runs[-1][1] += 1
        else:
            runs.append([label, 1])
    return ", ".join(label if n == 1 else f"{n} x {label}" for label, n in runs) or "no call"
