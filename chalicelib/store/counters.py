"""Rate counters: a conditional ADD per event, so a limit holds under concurrency."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.store.models import CounterItem
from chalicelib.store.transaction import failed_condition


@dataclass(frozen=True)
class Window:
    """A fixed window of ``seconds`` containing ``now``: its key and how long until it ends."""

    key: str
    ends_at: datetime
    retry_after_s: int

    @classmethod
    def of(cls, prefix: str, now: datetime, seconds: int) -> Window:
        start = math.floor(now.timestamp() / seconds) * seconds
        ends = datetime.fromtimestamp(start + seconds, UTC)
        return cls(f"{prefix}#{start}", ends, max(int((ends - now).total_seconds()), 1))


def take_action(window: Window, limit: int):
    """The update to put in a transaction: count one more, refused past ``limit``."""
    return (CounterItem(window.key),
            [CounterItem.n.add(1), CounterItem.expires_at.set(window.ends_at + timedelta(minutes=5))],
            CounterItem.n.does_not_exist() | (CounterItem.n < limit))


def take(window: Window, limit: int) -> bool:
    """Count one more in ``window``; False (nothing counted) once ``limit`` is reached."""
    item, actions, condition = take_action(window, limit)
    try:
        item.update(actions, condition=condition)
    except UpdateError as e:
        if failed_condition(e):
            return False
        raise
    return True
