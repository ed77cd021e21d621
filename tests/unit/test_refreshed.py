"""A secret's value cached for its TTL: read again once it is that old; a failed read again keeps
the last good value and is tried again 30 s later; only a first read's failure is the caller's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock
from chalicelib.security.refreshed import Refreshed

T0 = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)


class Secret:
    """What Secrets Manager answers, counting the reads; ``failing`` makes them fail, ``takes``
    makes each take that long on ``chalicelib.clock``."""

    def __init__(self) -> None:
        self.value, self.reads, self.failing, self.takes = "v1", 0, False, timedelta(0)

    def read(self) -> str:
        clock.set_now(clock.now() + self.takes)
        self.reads += 1
        if self.failing:
            raise ConnectionError("Secrets Manager unreachable")
        return self.value


@pytest.fixture
def secret():
    clock.set_now(T0)
    yield Secret()
    clock.set_now(None)


def test_the_value_is_read_once_per_ttl(secret):
    cached = Refreshed("test", secret.read, ttl_s=300)
    assert cached.get() == "v1"
    secret.value = "v2"

    clock.set_now(T0 + timedelta(seconds=299))
    within = cached.get()
    clock.set_now(T0 + timedelta(seconds=300))
    after = cached.get()

    assert (within, after, secret.reads) == ("v1", "v2", 2)


def test_a_failed_read_again_keeps_the_last_good_value_and_is_tried_again_30_s_later(secret):
    cached = Refreshed("test", secret.read, ttl_s=300)
    cached.get()
    secret.failing = True

    clock.set_now(T0 + timedelta(seconds=300))
    kept = cached.get()
    clock.set_now(T0 + timedelta(seconds=329))
    cached.get()
    reads_while_waiting = secret.reads
    secret.failing, secret.value = False, "v2"
    clock.set_now(T0 + timedelta(seconds=330))

    assert (kept, reads_while_waiting, cached.get()) == ("v1", 2, "v2")


def test_a_first_read_that_fails_is_the_callers_and_is_tried_again_at_the_next_call(secret):
    cached = Refreshed("test", secret.read, ttl_s=300)
    secret.failing = True

    with pytest.raises(ConnectionError):
        cached.get()
    secret.failing = False

    assert cached.get() == "v1"


def test_a_failed_read_is_tried_again_30_s_after_it_failed_not_after_it_started(secret):
    # A Secrets Manager that answers only once the client's deadlines have passed (about 20 s): a
    # retry counted from the start would leave a container waiting on it most of the time.
    cached = Refreshed("test", secret.read, ttl_s=300)
    cached.get()
    secret.failing, secret.takes = True, timedelta(seconds=20)
    clock.set_now(T0 + timedelta(seconds=300))
    cached.get()  # fails at 320 s
    clock.set_now(T0 + timedelta(seconds=349))
    cached.get()

    assert secret.reads == 2
