"""A value read from Secrets Manager and read again once it is a time to live old, so a container
sees a rotated key within that time instead of never.

Not powertools' ``get_secret(max_age=...)``: its cache runs on the wall clock (the tests move
``chalicelib.clock``) and a failed refresh raises, where a container that already holds good
keys should keep serving with them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib import clock
from chalicelib.observability import logger

# After a failed refresh, the next request tries again this much later: a Secrets Manager in
# trouble is asked at most twice a minute per container, each call within the outbound deadlines.
RETRY_AFTER = timedelta(seconds=30)


class Refreshed[T]:
    """``load()``'s answer, kept for ``ttl_s`` seconds. The first load's failure is the caller's
    (there is nothing to serve with); a later one keeps the last good value, logged."""

    def __init__(self, name: str, load: Callable[[], T], ttl_s: int) -> None:
        self._name, self._load, self._ttl = name, load, timedelta(seconds=ttl_s)
        self._lock = threading.Lock()
        self._value: T | None = None
        self._fresh_until: datetime | None = None

    def get(self) -> T:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        with self._lock:
            fresh = self._fresh()  # another thread may have refreshed it while this one waited
            if fresh is not None:
                return fresh
            read_at = clock.now()  # the value is as old as the read's start: the TTL counts from it
            try:
                value = self._load()
            except Exception as e:
                if self._value is None:
                    raise
                logger.warning(
                    "secret refresh failed, the last good value is kept", extra={"secret": self._name, "error": repr(e)}
                )
                # From the failure, which may have taken the client's whole deadline.
                self._fresh_until = clock.now() + RETRY_AFTER
                return self._value
            self._value, self._fresh_until = value, read_at + self._ttl
            return value

    def _fresh(self) -> T | None:
        """The value while it is fresh."""
        if self._value is not None and self._fresh_until is not None and clock.now() < self._fresh_until:
            return self._value
        return None
