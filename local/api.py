"""The API's process: ``chalice local`` with the gateway answering as the deployed API Gateway
does, started in its own process group, asked over HTTP, and stopped with its whole group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from local import HOST, ROOT, STAGE

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
from local.api import serve_api
sys.exit(serve_api(sys.argv[2:]))
"""


def serve_api(argv: list[str]) -> int:
    """``chalice local`` (``argv`` is its command line), with the gateway answering as the
    deployed API Gateway does.

    Deployed, a path the API does not have is answered by API Gateway itself, which
    ``infra/template.py`` configures (gateway responses) to give the contract's
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
        """Chalice's local API Gateway, with the gateway responses of ``infra/template.py``
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
    responses of ``infra/template.py`` carry the same body)."""
    from chalicelib.api.errors import error_response
    from chalicelib.domain.errors import Code, DomainError

    return error_response(DomainError(Code.NOT_FOUND)).to_dict()


def start_api(port: int, environment: dict[str, str]) -> subprocess.Popen:
    """``chalice local`` on ``HOST:port`` in a child process with ``environment``; stop it with
    ``stop_process_group``. Raises ``FileNotFoundError`` when the venv has no ``chalice``."""
    chalice = str(Path(sys.executable).with_name("chalice"))
    if not Path(chalice).is_file():
        raise FileNotFoundError(f"no chalice next to {sys.executable}: run with the project's venv (make run)")
    command = [
        sys.executable,
        "-c",
        _CHILD_BOOTSTRAP,
        str(os.getpid()),
        chalice,
        "local",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-autoreload",
        "--stage",
        STAGE,
    ]
    # Its own session and process group: a terminal's Ctrl-C reaches only the stack's process,
    # which then stops the whole group (chalice's PID is the group id, whatever it forks).
    return subprocess.Popen(command, cwd=ROOT, env={**environment, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


def http_get(url: str, timeout: float = 2.0) -> tuple[int | None, str]:
    """(status, body) of a GET; (None, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(getattr(e, "reason", e))


def stop_process_group(process: subprocess.Popen, grace_s: float = 5.0) -> None:
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
