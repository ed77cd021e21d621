"""The scheduled functions of the app, run in this process as EventBridge would run them: once
at a chosen time (``python -m local.sweep``), or on the wall clock beside the local stack."""

from __future__ import annotations

import contextlib
import secrets
import sys
import threading
import time

from local import ROOT, STAGE, project_on_path

SCHEDULED = ("expire_trials", "block_unconfirmed", "deactivate_silent", "meter_usage", "purge_unconfirmed")


def run_scheduled(names: tuple[str, ...] | list[str], at: str) -> dict[str, dict]:
    """Invoke scheduled functions of the app as EventBridge would, with ``at`` as the event's
    time, in this process (whose environment points at the stack's moto)."""
    project_on_path()
    from chalice.test import Client

    from app import app

    event = {
        "version": "0",
        "id": f"local-{secrets.token_hex(4)}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at,
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
    with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        return {name: client.lambda_.invoke(name, event).payload for name in names}


def run_on_the_wall_clock(every_s: float, cleanup: contextlib.ExitStack) -> None:
    """Every scheduled function every ``every_s`` seconds, as of the real time, in a thread that
    ``cleanup`` stops (production runs them hourly and every five minutes; locally a minute shows
    them at work). What a run acted on is printed to stderr."""
    stopped = threading.Event()

    def tick() -> None:
        while not stopped.wait(every_s):
            at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            for name, report in run_scheduled(SCHEDULED, at).items():
                if report.get("acted"):
                    print(f"local stack: {name} at {at}: {report}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=tick, name="schedules", daemon=True)
    thread.start()
    cleanup.callback(thread.join, 10)
    cleanup.callback(stopped.set)
