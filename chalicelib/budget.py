"""How long a scheduled run may go on starting work.

Lambda stops a function at its timeout, wherever it is. A sweep asks its budget before each step
(a batch of releases, a tenant, an hour of usage) and, once the budget is spent, leaves the rest
to its next run, which finds it where the due indexes (or the meter's marks) say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Stop starting new steps when less than this remains: a step is one or two DynamoDB calls
# (each at most 2 s to connect and 5 s to read before its retry), so this covers the step under
# way, the report and the metrics.
SAFETY_MARGIN_MS = 5_000
# ... or a sixth of the time the run started with, when that is less: Chalice's local and test
# contexts give a function 3 s, not Lambda's 30 s (where both come to 5 s).
SAFETY_SHARE = 6


class Budget:
    """The time a run has left, from a Lambda context's ``get_remaining_time_in_millis`` (tests
    give a context whose time source they move)."""

    def __init__(self, remaining_ms: Callable[[], float]) -> None:
        self._remaining_ms = remaining_ms
        self.margin_ms = min(SAFETY_MARGIN_MS, remaining_ms() / SAFETY_SHARE)
        self.spent = False

    @classmethod
    def of(cls, context: Any) -> Budget:
        return cls(context.get_remaining_time_in_millis)

    def left(self) -> bool:
        """Whether another step may start; once spent, it stays spent for this run."""
        if not self.spent and self._remaining_ms() < self.margin_ms:
            self.spent = True
        return not self.spent
