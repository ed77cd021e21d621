"""The scheduled functions of the app, run in this process as EventBridge would run them: once
at a chosen time (``python -m local.sweep``), or on the wall clock beside the local stack."""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import threading
import time
from typing import Any

from chalice import test as chalice_test
from chalice.local import LambdaContext

from local import ROOT, STAGE, project_on_path

SCHEDULED = ("expire_trials", "block_unconfirmed", "deactivate_silent", "meter_usage", "purge_unconfirmed")

# The time a function has when deployed: the package stage's timeout, which the template keeps.
DEPLOYED_TIMEOUT_MS = (
    json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["package"]["lambda_timeout"] * 1_000
)


class _DeployedLambdaClient(chalice_test.TestLambdaClient):
    """chalice's test Lambda client, except that a function gets the time it has when deployed
    rather than chalice's fixed 3 s. The sweeps plan their work by the time left
    (``chalicelib.budget``): with 3 s, a busy machine stopped them before their first batch."""

    def invoke(self, function_name: str, payload: Any = None) -> chalice_test.InvokeResponse:
        if function_name not in self._app.handler_map:
            raise chalice_test.FunctionNotFoundError(function_name)
        scoped = self._config.scope(self._config.chalice_stage, function_name)
        context = LambdaContext(function_name, scoped.lambda_memory_size, max_runtime_ms=DEPLOYED_TIMEOUT_MS)
        event = {} if payload is None else payload
        with self._patched_env_vars(scoped.environment_variables):
            return chalice_test.InvokeResponse(self._app.handler_map[function_name](event, context))


class Client(chalice_test.Client):
    """chalice's test client, whose ``lambda_`` runs functions with their deployed timeout."""

    @property
    def lambda_(self) -> chalice_test.TestLambdaClient:
        if self._lambda_client is None:
            self._lambda_client = _DeployedLambdaClient(self._app, self._chalice_config)
        return self._lambda_client


def run_scheduled(names: tuple[str, ...] | list[str], at: str) -> dict[str, dict]:
    """Invoke scheduled functions of the app as EventBridge would, with ``at`` as the event's
    time, in this process (whose environment points at the stack's moto)."""
    project_on_path()
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
