"""The whole service on this machine: ``python -m local.stack`` (``make run``).

Starts moto (DynamoDB and Secrets Manager) on 127.0.0.1, creates the tables, seeds a demo
tenant on trial through the app's own operator API, and serves the API with
``chalice local`` on ``http://127.0.0.1:$PORT`` (default 8000). Ctrl-C (or SIGTERM/SIGHUP)
stops the API's process group and moto, and exits 0.

Options: ``--port N`` (default ``$PORT`` or 8000), ``--no-demo`` (no demo tenant), ``--json``
(instead of the banner, print one JSON line with the URLs and keys once the API answers; the
e2e tests read it). The operator key comes from ``OPERATOR_KEY`` when set, else a fresh one is
made; the app only ever sees its SHA-256.

For programs: ``with LocalStack(port=0) as stack: ...`` gives ``stack.base_url``,
``stack.operator_key`` and ``stack.demo``. It sets the app's environment in ``os.environ`` of
the calling process and imports ``chalicelib``, so it must run in a process that has not yet
imported ``chalicelib`` with other settings (the test suite has: start this module in a
subprocess there, as ``tests/e2e`` does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local.environment import use_local_environment

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local"


def state_file(port: int) -> Path:
    """Where the stack serving ``port`` says where its moto is (for ``python -m local.sweep``)."""
    return STATE_DIR / f"stack-{port}.json"

HOST = "127.0.0.1"
STAGE = "dev"

DEMO_LOADMASTER = {"mac": "00:50:56:aa:bb:cc", "ip": "10.0.0.5", "port": 443, "sku": "VLM-MAX-SPLA",
                   "image": "LoadMaster-VLM-7.2.47-SPLA.ova", "version": "7.2.47"}

# The API child sets PR_SET_PDEATHSIG (Linux; elsewhere the call fails and is skipped): should this
# process be killed without a chance to clean up (SIGKILL), the kernel still stops the API. Then
# it serves `chalice local` in that same process, through `serve_api` below.
_CHILD_BOOTSTRAP = """\
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # the stack is already gone
from local.stack import serve_api
sys.exit(serve_api(sys.argv[2:]))
"""


def serve_api(argv: list[str]) -> int:
    """``chalice local`` (``argv`` is its command line), with the gateway answering as the
    deployed API Gateway does.

    Deployed, a path the API does not have is answered by API Gateway itself, which
    ``infra/resources.json`` configures (gateway responses) to give the contract's
    ``404 NOT_FOUND`` body. ``chalice local`` emulates API Gateway without those settings and
    answers ``403 {"message": "Missing Authentication Token"}``. Chalice has no hook for it, so
    its module's gateway class is replaced by a subclass before the server is made; everything
    else is Chalice's own. (A known path with an unknown method reaches the app, whose
    middleware answers 405 in the contract's body, as in the test client.)"""
    import chalice.local
    from chalice.cli import main

    chalice.local.LocalGateway = _contract_gateway()
    # socketserver's listen backlog is 5: a burst of concurrent LoadMasters on a busy machine
    # overflowed it and saw "connection reset" (API Gateway queues them instead).
    chalice.local.ThreadedHTTPServer.request_queue_size = 128
    sys.argv = argv
    return main()


def _contract_gateway() -> type:
    from chalice.local import LocalGateway, RouteMatcher

    class ContractGateway(LocalGateway):
        """Chalice's local API Gateway, with the gateway responses of ``infra/resources.json``
        for a path the API does not have."""

        def __init__(self, app_object: Any, config: Any) -> None:
            super().__init__(app_object, config)
            self._routes = RouteMatcher(list(app_object.routes))

        def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> dict[str, Any]:
            try:
                self._routes.match_route(path)
            except ValueError:
                return not_found_response()
            return super().handle_request(method, path, headers, body)

    return ContractGateway


def not_found_response() -> dict[str, Any]:
    """The answer to a path the API does not have, as the app answers any NOT_FOUND (the gateway
    responses of ``infra/resources.json`` carry the same body)."""
    from chalicelib.api.errors import error_response
    from chalicelib.domain.errors import Code, DomainError

    return error_response(DomainError(Code.NOT_FOUND)).to_dict()


def atomic_moto_server(host: str):
    """moto's threaded server with each request handled atomically, as DynamoDB applies each
    request atomically. moto has no per-item lock: two concurrent conditional writes on one item
    could both pass their condition, and then the local stack would test moto's races instead of
    the service's conditions (the concurrency tests run against it)."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    lock = threading.Lock()

    class AtomicDispatcher(DomainDispatcherApplication):
        def __call__(self, environ, start_response):
            with lock:
                # The whole body is read and the whole answer built inside the lock.
                return list(super().__call__(environ, start_response))

    class AtomicMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(self._ip_address, self._port, AtomicDispatcher(create_backend_app), True,
                                       request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return AtomicMotoServer(ip_address=host, port=0, verbose=False)


class StackError(RuntimeError):
    """The stack could not start (port taken, the API died, a dependency failed)."""


class StopRequested(Exception):
    """A stop signal arrived while the stack was starting."""


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    api_key: str
    activation_key: str
    lic_type_id: str
    sku: str
    capacity: int
    trial_expires_at: str | None


class LocalStack:
    """moto + tables + demo tenant + ``chalice local``; ``start()`` and ``stop()`` (idempotent),
    or use it as a context manager.

    Everything started registers how to stop it in ``self._cleanup``; ``stop()`` unwinds it in
    reverse order. A later step that runs beside the API (for example a timer thread for the
    scheduled functions) starts at the end of ``start()`` and registers its stop the same way.
    """

    def __init__(self, port: int = 8000, *, operator_key: str | None = None, demo: bool = True,
                 stop_event: threading.Event | None = None, startup_timeout_s: float = 60.0,
                 schedule_every_s: float = 60.0) -> None:
        self.port = port
        self.schedule_every_s = schedule_every_s
        self.operator_key = operator_key or f"lk_op.{secrets.token_urlsafe(24)}"
        self.with_demo = demo
        self.startup_timeout_s = startup_timeout_s
        self._stop_event = stop_event or threading.Event()
        self._cleanup = contextlib.ExitStack()
        self.moto_endpoint: str | None = None
        self.demo: DemoTenant | None = None
        self.api_process: subprocess.Popen | None = None
        self.startup_s: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LocalStack:
        started = time.monotonic()
        try:
            self._claim_port()
            self._start_moto()
            self._set_environment()
            self._start_api()  # its ~1 s of imports overlap the tables and the demo tenant
            self._prepare_store()
            self._check_stop()
            if self.with_demo:
                self.demo = self._seed_demo()
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
                raise StackError(f"{HOST}:{self.port} is in use ({e.strerror}); "
                                 "choose another port with --port or PORT") from e
            self.port = probe.getsockname()[1]

    def _start_moto(self) -> None:
        # One access-log line per DynamoDB call drowns the API's own log: keep moto's warnings only.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = atomic_moto_server(HOST)
        server.start()
        self._cleanup.callback(server.stop)
        host, port = server.get_host_and_port()
        self.moto_endpoint = f"http://{host}:{port}"

    def _set_environment(self) -> None:
        """The app's configuration (see chalicelib/settings.py), before chalicelib is imported."""
        use_local_environment(moto_endpoint=self.moto_endpoint, operator_key=self.operator_key)
        models = sys.modules.get("chalicelib.store.models")
        if models is not None and models.TenantItem.Meta.host != self.moto_endpoint:
            raise StackError("chalicelib was imported before the local stack set its environment; "
                             "run the stack in a fresh process (python -m local.stack)")
        if "chalicelib.settings" in sys.modules:
            sys.modules["chalicelib.settings"].get_settings.cache_clear()

    def _prepare_store(self) -> None:
        from chalicelib.security.signing import key_ring, reset_key_ring
        from chalicelib.store import create_tables

        create_tables()
        # Create the lease-signing key now (dev autocreate), so the API's first requests find it.
        reset_key_ring()
        key_ring()

    def _seed_demo(self) -> DemoTenant:
        """A tenant on trial, made through the operator API like any real one."""
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from chalice.test import Client

        from app import app

        operator = {"Authorization": f"Bearer {self.operator_key}", "Content-Type": "application/json"}
        with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:

            def call(method: str, path: str, headers: dict[str, str], body: Any = None, expect: int = 200) -> Any:
                response = getattr(client.http, method)(path, headers=headers,
                                                        body=json.dumps(body) if body is not None else None)
                if response.status_code != expect:
                    raise StackError(f"seeding the demo tenant: {method.upper()} {path} answered "
                                     f"{response.status_code} {response.body!r}")
                return json.loads(response.body)

            created = call("post", "/v1/tenants", operator,
                           {"name": "Demo Tenant", "owner_email": "demo@example.com"}, expect=201)
            tenant_id = created["tenant_id"]
            trial = call("post", f"/v1/tenants/{tenant_id}/trial", operator, {}, expect=201)
            admin = {"Authorization": f"Bearer {created['api_key']}"}
            types = call("get", "/v1/license-types", admin)["license_types"]
        if not types:
            raise StackError("seeding the demo tenant: the trial created no license type")
        first = types[0]
        return DemoTenant(tenant_id=tenant_id, api_key=created["api_key"], activation_key=created["activation_key"],
                          lic_type_id=first["lic_type_id"], sku=first["sku"], capacity=first["capacity"],
                          trial_expires_at=trial.get("trial_expires_at"))

    def _start_api(self) -> None:
        chalice = str(Path(sys.executable).with_name("chalice"))
        if not Path(chalice).is_file():
            raise StackError(f"no chalice next to {sys.executable}: run with the project's venv (make run)")
        command = [sys.executable, "-c", _CHILD_BOOTSTRAP, str(os.getpid()), chalice, "local", "--host", HOST,
                   "--port", str(self.port), "--no-autoreload", "--stage", STAGE]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("OPERATOR_KEY", None)  # the app gets the hash only
        # Its own session and process group: a terminal's Ctrl-C reaches only this process, which
        # then stops the whole group (chalice's PID is the group id, whatever it forks).
        process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        self.api_process = process
        self._cleanup.callback(_stop_process_group, process)

    def _write_state(self) -> None:
        """Where this stack's moto is, for ``python -m local.sweep`` (removed on stop)."""
        path = state_file(self.port)
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"moto_endpoint": self.moto_endpoint, "base_url": self.base_url,
                                    "pid": os.getpid()}))
        self._cleanup.callback(path.unlink, missing_ok=True)

    def _start_schedules(self) -> None:
        """The scheduled functions on the real clock, every ``schedule_every_s`` (production runs
        them hourly and every five minutes; locally a minute shows them at work)."""
        if self.schedule_every_s <= 0:
            return
        stopped = threading.Event()

        def tick() -> None:
            while not stopped.wait(self.schedule_every_s):
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                for name, report in run_scheduled(SCHEDULED, at).items():
                    if report.get("acted"):
                        print(f"local stack: {name} at {at}: {report}", file=sys.stderr, flush=True)

        thread = threading.Thread(target=tick, name="schedules", daemon=True)
        thread.start()
        self._cleanup.callback(thread.join, 10)
        self._cleanup.callback(stopped.set)

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

    # -- what to show --------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What ``--json`` prints: everything a client of the local stack needs."""
        return {"event": "local-stack-ready", "base_url": self.base_url, "operator_key": self.operator_key,
                "moto_endpoint": self.moto_endpoint, "api_pid": self.api_process.pid if self.api_process else None,
                "startup_s": round(self.startup_s or 0, 2), **(asdict(self.demo) if self.demo else {})}

    def banner(self) -> str:
        base = self.base_url
        console_status, _ = http_get(f"{base}/console")
        console_note = "" if console_status == 200 else "   (not served by this build yet)"
        lines = [
            "",
            f"Local licensing stack is up (started in {self.startup_s:.1f} s)",
            "",
            f"  API             {base}",
            f"  health          {base}/v1/health",
            f"  JWKS            {base}/v1/.well-known/jwks.json",
            f"  console         {base}/console{console_note}",
            f"  moto            {self.moto_endpoint}   (DynamoDB + Secrets Manager, in memory)",
            "",
            f"  operator key    {self.operator_key}",
        ]
        op = f"-H {shlex.quote('Authorization: Bearer ' + self.operator_key)}"
        if self.demo is None:
            lines += ["", "Try it:", f"  curl -s {base}/v1/tenants {op}"]
        else:
            d = self.demo
            lm_keys = f"-H 'Content-Type: application/json' -H {shlex.quote('X-Activation-Key: ' + d.activation_key)}"
            admin = f"-H {shlex.quote('Authorization: Bearer ' + d.api_key)}"
            activation_body = json.dumps({**DEMO_LOADMASTER, "lic_type_id": d.lic_type_id})
            lines += [
                "",
                f"Demo tenant {d.tenant_id}: trial, {d.capacity} instances of {d.sku}, until {d.trial_expires_at}",
                f"  api key         {d.api_key}",
                f"  activation key  {d.activation_key}",
                f"  lic_type_id     {d.lic_type_id}",
                "",
                "Try it:",
                "  # a LoadMaster asks which license types it may take",
                f"  curl -s -X POST {base}/v1/activation/license-types {lm_keys} \\",
                f"    -d {shlex.quote(json.dumps(DEMO_LOADMASTER))}",
                "  # it activates: 201 with device_id, device_token and a signed lease (status PENDING)",
                f"  curl -s -X POST {base}/v1/activations {lm_keys} \\",
                f"    -d {shlex.quote(activation_body)}",
                "  # it confirms: put in device_id and device_token from the activation's answer (-> ACTIVE)",
                f"  curl -s -X POST {base}/v1/devices/<device_id>/confirm -H 'Authorization: Device <device_token>'",
                "  # the tenant admin sees the instance in use",
                f"  curl -s {base}/v1/license {admin}",
                "  # the operator lists the tenants",
                f"  curl -s {base}/v1/tenants {op}",
            ]
        lines += ["", "Ctrl-C stops everything.", ""]
        return "\n".join(lines)


def http_get(url: str, timeout: float = 2.0) -> tuple[int | None, str]:
    """(status, body) of a GET; (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(getattr(e, "reason", e))


def _stop_process_group(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the process's group, SIGKILL what is left after ``grace_s``, reap the leader."""
    pgid = process.pid  # start_new_session: the leader's PID is the group's id
    _killpg(pgid, signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        _killpg(pgid, signal.SIGKILL)
        process.wait()
    _killpg(pgid, signal.SIGKILL)  # anything the leader forked and left behind


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


SCHEDULED = ("expire_trials", "block_unconfirmed", "deactivate_silent", "meter_usage")


def run_scheduled(names: tuple[str, ...] | list[str], at: str) -> dict[str, dict]:
    """Invoke scheduled functions of the app as EventBridge would, with ``at`` as the event's
    time, in this process (whose environment points at the stack's moto)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from chalice.test import Client

    from app import app

    event = {"version": "0", "id": f"local-{secrets.token_hex(4)}", "detail-type": "Scheduled Event",
             "source": "aws.events", "account": "123456789012", "time": at, "region": "us-east-1",
             "resources": [], "detail": {}}
    with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        return {name: client.lambda_.invoke(name, event).payload for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000),
                        help="the API's port on 127.0.0.1 (default: $PORT or 8000)")
    parser.add_argument("--no-demo", action="store_true", help="do not create the demo tenant")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line with the URLs and keys when ready, instead of the banner")
    args = parser.parse_args(argv)

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for sig in stop_signals:
        signal.signal(sig, on_signal)

    stack = LocalStack(args.port, operator_key=os.environ.get("OPERATOR_KEY") or None, demo=not args.no_demo,
                       stop_event=stop)
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
