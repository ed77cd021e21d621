"""The whole service on this machine: ``python -m local.stack`` (``make run``).

Starts moto (DynamoDB, Secrets Manager and Cognito) on 127.0.0.1, creates the tables and the
accounts' user pool, seeds a demo account owning a demo tenant on trial through the app's own API,
shows the codes Cognito would have mailed (``local.accounts``), and serves the API with
``chalice local`` on ``http://127.0.0.1:$PORT`` (default 8000). Ctrl-C (or SIGTERM/SIGHUP)
stops the API's process group and moto, and exits 0.

Options: ``--port N`` (default ``$PORT`` or 8000), ``--no-demo`` (no demo tenant),
``--no-schedules`` (the scheduled functions do not run on the wall clock: run them with
``python -m local.sweep``, as the e2e and browser tests do), ``--json`` (instead of the banner,
print one JSON line with the URLs and keys once the API answers; the e2e tests read it). The
operator key comes from ``OPERATOR_KEY`` when set, else a fresh one is made; the app only ever
sees its SHA-256. The demo account's password comes from ``DEMO_PASSWORD`` when set, else a fresh
one is made. Any other setting of the service (``REFUSALS_PER_KEY_PER_MINUTE``, ...) is
read from the environment as the deployed service reads it.

For programs: ``with LocalStack(port=0) as stack: ...`` gives ``stack.base_url``,
``stack.operator_key``, ``stack.demo``, ``stack.account`` (the demo account's email and password)
and ``stack.mailbox`` (the file of mailed codes, ``local.accounts.read_mail``). It configures
``chalicelib`` in the calling process for its moto (``chalicelib.startup.configure``), replacing
whatever settings it had.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chalicelib.settings import Settings
from local import HOST, ROOT
from local.accounts import Mailbox, UserPool, confirming_as_cognito, delivering_to, mailbox_path
from local.api import http_get, not_found_response, start_api, stop_process_group
from local.banner import banner
from local.demo import DemoAccount, DemoError, DemoTenant, seed_demo
from local.environment import as_environment, local_settings, use_fake_aws_credentials
from local.moto import atomic_moto_server
from local.schedules import SCHEDULED, run_on_the_wall_clock, run_scheduled

# What other modules take from here.
__all__ = ["ROOT", "SCHEDULED", "LocalStack", "StackError", "not_found_response", "run_scheduled", "state_file"]

STATE_DIR = ROOT / ".local"


def state_file(port: int) -> Path:
    """Where the stack serving ``port`` says where its moto is (for ``python -m local.sweep``)."""
    return STATE_DIR / f"stack-{port}.json"


class StackError(RuntimeError):
    """The stack could not start (port taken, the API died, a dependency failed)."""


class StopRequested(Exception):
    """A stop signal arrived while the stack was starting."""


class LocalStack:
    """moto + tables + demo tenant + ``chalice local``; ``start()`` and ``stop()`` (idempotent),
    or use it as a context manager.

    Everything started registers how to stop it in ``self._cleanup``; ``stop()`` unwinds it in
    reverse order. A later step that runs beside the API (for example a timer thread for the
    scheduled functions) starts at the end of ``start()`` and registers its stop the same way.
    """

    def __init__(
        self,
        port: int = 8000,
        *,
        operator_key: str | None = None,
        demo: bool = True,
        stop_event: threading.Event | None = None,
        startup_timeout_s: float = 60.0,
        schedule_every_s: float = 60.0,
    ) -> None:
        """``schedule_every_s``: how often the scheduled functions run on the wall clock; 0 never."""
        self.port = port
        self.schedule_every_s = schedule_every_s
        self.operator_key = operator_key or f"lk_op.{secrets.token_urlsafe(24)}"
        self.with_demo = demo
        self.startup_timeout_s = startup_timeout_s
        self._stop_event = stop_event or threading.Event()
        self._cleanup = contextlib.ExitStack()
        self.moto_endpoint: str | None = None
        self.demo: DemoTenant | None = None
        self.account: DemoAccount | None = None
        self.user_pool: UserPool | None = None
        self.mailbox: Path | None = None
        self.api_process: subprocess.Popen | None = None
        self.startup_s: float | None = None
        self.settings: Settings | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LocalStack:
        started = time.monotonic()
        try:
            self._claim_port()
            self._start_cognito_as_aws()
            self._start_moto()
            self._configure()
            self._start_api()  # its ~1 s of imports overlap the tables and the demo tenant
            self._prepare_store()
            self._check_stop()
            if self.with_demo:
                self.demo, self.account = self._seed_demo()
            self._wait_until_healthy()
            self._write_state()
            self._start_schedules()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def stop(self) -> None:
        self._cleanup.close()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> int | None:
        """Block until a stop is requested (``None``) or the API exits by itself (its code)."""
        while not self._stop_event.wait(0.5):
            code = self.api_process.poll() if self.api_process else None
            if code is not None:
                return code
        return None

    def _check_stop(self) -> None:
        if self._stop_event.is_set():
            raise StopRequested

    # -- steps ---------------------------------------------------------------------------------

    def _claim_port(self) -> None:
        """Fail early and clearly when the port is taken; port 0 picks a free one."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As the API's server does: connections in TIME_WAIT from a previous run do not count.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, self.port))
            except OSError as e:
                raise StackError(
                    f"{HOST}:{self.port} is in use ({e.strerror}); choose another port with --port or PORT"
                ) from e
            self.port = probe.getsockname()[1]

    def _start_cognito_as_aws(self) -> None:
        """What moto's Cognito in this process leaves out of AWS's: the mail (codes) to stderr and
        the mailbox file, and a confirmation that verifies the email."""
        self.mailbox = mailbox_path(STATE_DIR, self.port)
        self.mailbox.unlink(missing_ok=True)  # a previous run's codes
        self._cleanup.callback(self.mailbox.unlink, missing_ok=True)
        self._cleanup.enter_context(delivering_to(Mailbox(self.mailbox)))
        self._cleanup.enter_context(confirming_as_cognito())

    def _start_moto(self) -> None:
        # One access-log line per DynamoDB call drowns the API's own log: keep moto's warnings only.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = atomic_moto_server(HOST)
        server.start()
        self._cleanup.callback(server.stop)
        host, port = server.get_host_and_port()
        self.moto_endpoint = f"http://{host}:{port}"

    def _configure(self) -> None:
        """The app's settings for this stack's moto, in this process (the demo seeding, the
        schedules) and, as environment variables, in the API's (``_start_api``)."""
        from chalicelib.startup import configure
        from chalicelib.store import create_user_pool

        use_fake_aws_credentials()
        settings = configure(local_settings(moto_endpoint=self.moto_endpoint, operator_key=self.operator_key))
        # The accounts' pool and client first: the API is told their ids when it starts, as the
        # stack tells every function (COGNITO_USER_POOL_ID, COGNITO_CLIENT_ID).
        self.user_pool = UserPool(*create_user_pool())
        self.settings = configure(
            settings.model_copy(
                update={"cognito_user_pool_id": self.user_pool.pool_id, "cognito_client_id": self.user_pool.client_id}
            )
        )

    def _prepare_store(self) -> None:
        from chalicelib.security.signing import key_ring, reset_key_ring
        from chalicelib.store import create_tables

        create_tables()
        # Create the lease-signing key now (dev autocreate), so the API's first requests find it.
        reset_key_ring()
        key_ring()

    def _start_api(self) -> None:
        env = {**os.environ, **as_environment(self.settings), **self.user_pool.environment()}
        env.pop("OPERATOR_KEY", None)  # the app gets the hash only
        env.pop("DEMO_PASSWORD", None)  # Cognito holds the password, the app never
        try:
            process = start_api(self.port, env)
        except FileNotFoundError as e:
            raise StackError(str(e)) from e
        self.api_process = process
        self._cleanup.callback(stop_process_group, process)

    def _write_state(self) -> None:
        """Where this stack's moto and user pool are, for ``python -m local.sweep`` (removed on stop)."""
        path = state_file(self.port)
        path.parent.mkdir(exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "moto_endpoint": self.moto_endpoint,
                    "base_url": self.base_url,
                    "pid": os.getpid(),
                    **self.user_pool.environment(),
                }
            )
        )
        self._cleanup.callback(path.unlink, missing_ok=True)

    def _start_schedules(self) -> None:
        if self.schedule_every_s > 0:
            run_on_the_wall_clock(self.schedule_every_s, self._cleanup)

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            self._check_stop()
            code = self.api_process.poll()
            if code is not None:
                raise StackError(f"chalice local exited with code {code} before answering (see its output above)")
            status, body = http_get(f"{self.base_url}/v1/health")
            if status == 200:
                return
            last = f"{status} {body}" if status else body
            time.sleep(0.1)
        raise StackError(f"GET /v1/health did not answer 200 within {self.startup_timeout_s:.0f} s: {last}")

    def _seed_demo(self) -> tuple[DemoTenant, DemoAccount | None]:
        try:
            return seed_demo(self.operator_key, self.mailbox, password=os.environ.get("DEMO_PASSWORD") or None)
        except DemoError as e:
            raise StackError(str(e)) from e

    # -- what to show --------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What ``--json`` prints: everything a client of the local stack needs."""
        return {
            "event": "local-stack-ready",
            "base_url": self.base_url,
            "operator_key": self.operator_key,
            "moto_endpoint": self.moto_endpoint,
            "api_pid": self.api_process.pid if self.api_process else None,
            "startup_s": round(self.startup_s or 0, 2),
            "schedule_every_s": self.schedule_every_s,
            "user_pool_id": self.user_pool.pool_id if self.user_pool else None,
            "user_pool_client_id": self.user_pool.client_id if self.user_pool else None,
            "mailbox": str(self.mailbox) if self.mailbox else None,
            **(asdict(self.demo) if self.demo else {}),
            **(asdict(self.account) if self.account else {}),
        }

    def banner(self) -> str:
        return banner(self)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or 8000),
        help="the API's port on 127.0.0.1 (default: $PORT or 8000)",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not create the demo tenant")
    parser.add_argument(
        "--no-schedules",
        action="store_true",
        help="do not run the scheduled functions every minute on the wall clock (run them with python -m local.sweep)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line with the URLs and keys when ready, instead of the banner",
    )
    args = parser.parse_args(argv)

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for sig in stop_signals:
        signal.signal(sig, on_signal)

    stack = LocalStack(
        args.port,
        operator_key=os.environ.get("OPERATOR_KEY") or None,
        demo=not args.no_demo,
        stop_event=stop,
        schedule_every_s=0 if args.no_schedules else 60.0,
    )
    try:
        stack.start()
        print(json.dumps(stack.summary()) if args.json else stack.banner(), flush=True)
        code = stack.wait()
        if code is not None:
            print(f"local stack: chalice local exited by itself with code {code}", file=sys.stderr, flush=True)
            return 1
        return 0
    except StopRequested:
        return 0
    except StackError as e:
        print(f"local stack: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        for sig in stop_signals:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        if received:
            print(f"local stack: stopped ({signal.Signals(received[0]).name})", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
