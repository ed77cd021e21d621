"""``python -m local.stack --no-schedules``: the local stack runs no scheduled function on the wall
clock (the e2e and browser stacks start so, and run each sweep when they mean to)."""

import signal

import pytest

from local import stack

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@pytest.fixture
def started(monkeypatch):
    """The stacks ``main`` would start, stopped before anything runs (and this process's signal
    handlers as they were: ``main`` installs its own)."""
    made = []

    def start(self):
        made.append(self)
        raise stack.StopRequested

    monkeypatch.setattr(stack.LocalStack, "start", start)
    monkeypatch.setattr(stack.LocalStack, "stop", lambda self: None)
    handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    yield made
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("argv, every_s", [([], 60.0), (["--no-schedules"], 0)])
def test_the_command_line_switches_the_wall_clock_schedules_off(started, argv, every_s):
    assert stack.main(["--port", "0", *argv]) == 0

    [made] = started
    assert made.schedule_every_s == every_s


@pytest.mark.parametrize("every_s, timers", [(60.0, [60.0]), (0, [])])
def test_a_stack_without_schedules_starts_no_timer(monkeypatch, every_s, timers):
    started = []
    monkeypatch.setattr(stack, "run_on_the_wall_clock", lambda every, cleanup: started.append(every))

    stack.LocalStack(0, schedule_every_s=every_s)._start_schedules()

    assert started == timers
