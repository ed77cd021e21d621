"""Fixed time windows: what the rate limits count in. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime


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


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` events in ``window``."""

    window: Window
    limit: int
