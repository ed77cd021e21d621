"""Rate counters: a conditional ADD per event, so a limit holds under concurrency."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.windows import RateLimit, Window
from chalicelib.store.failures import dynamodb
from chalicelib.store.models import CounterItem
from chalicelib.store.transaction import Transaction, update_if

__all__ = ["RateLimit", "Window", "take"]


def _counted(window: Window):
    return [CounterItem.n.add(1), CounterItem.expires_at.set(window.ends_at + timedelta(minutes=5))]


def _below(limit: int):
    return CounterItem.n.does_not_exist() | (CounterItem.n < limit)


def take_in(tx: Transaction, label: str, rate: RateLimit) -> None:
    """Count one more in ``rate``'s window inside ``tx``; ``label``'s condition fails once the
    limit is reached."""
    tx.update(label, CounterItem(rate.window.key), _counted(rate.window), condition=_below(rate.limit))


@dynamodb
def take(window: Window, limit: int) -> bool:
    """Count one more in ``window``; False (nothing counted) once ``limit`` is reached."""
    return update_if(CounterItem(window.key), _counted(window), _below(limit))
