"""The CLI against the app in process: a requests transport adapter answers every request of
the CLI's sessions from Chalice's test client (``api.client``), so each command runs exactly as
it does against ``make run``, with moto and the clock of ``tests/conftest.py``."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner, Result
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from cli.main import cli
from tests.conftest import OPERATOR_KEY, TenantKeys

URL = "http://127.0.0.1:8000"


class ChaliceAdapter(BaseAdapter):
    """A requests transport that hands each request to ``chalice.test.Client`` instead of a socket.
    It refuses anything but the loopback URL the CLI was given.

    The app prints its metrics to ``sys.stdout``, which click's runner has replaced with the CLI's
    own stdout; in a real deployment they are two processes. So each request runs with stdout
    pointed back at pytest's, one request at a time (the CLI's threads still run concurrently
    around them; the swap of ``sys.stdout`` is process-wide and must not interleave)."""

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client
        self.seen: list[tuple[str, str]] = []
        self._app_stdout = sys.stdout
        self._lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        url = urlsplit(request.url)
        assert url.hostname == "127.0.0.1", f"the CLI left the given URL: {request.url}"
        path = url.path + (f"?{url.query}" if url.query else "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        with self._lock, contextlib.redirect_stdout(self._app_stdout):
            self.seen.append((request.method, path))
            answer = self.client.http.request(request.method, path, headers=dict(request.headers), body=body)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.body if isinstance(answer.body, bytes) else (answer.body or "").encode()
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        response.reason = "OK" if answer.status_code < 400 else "Error"
        return response

    def close(self) -> None:
        pass


@dataclass
class Cli:
    """Runs ``licensing`` with the given keys in its environment (as a user would set them)."""

    runner: CliRunner
    adapter: ChaliceAdapter
    config_dir: str = ""  # where a signed-in account's session is kept (never the user's own)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("http://", self.adapter)
        session.mount("https://", self.adapter)
        return session

    def __call__(
        self,
        *args: str,
        operator: bool = False,
        tenant: TenantKeys | None = None,
        activation: bool = False,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        variables = {
            "LICENSING_URL": URL,
            "LICENSING_OPERATOR_KEY": None,
            "LICENSING_API_KEY": None,
            "LICENSING_ACTIVATION_KEY": None,
            "LICENSING_TENANT_ID": None,
            "LICENSING_CONFIG_DIR": self.config_dir,
            "XDG_CONFIG_HOME": None,
        }
        if operator:
            variables["LICENSING_OPERATOR_KEY"] = OPERATOR_KEY
        if tenant is not None:
            variables["LICENSING_API_KEY"] = tenant.api_key
            if activation:
                variables["LICENSING_ACTIVATION_KEY"] = tenant.activation_key
        variables.update(env or {})
        return self.runner.invoke(
            cli, list(args), obj={"session_factory": self.session}, env=variables, input=input, catch_exceptions=False
        )

    def json(self, *args: str, **kwargs) -> object:
        result = self("--json", *args, **kwargs)
        assert result.exit_code == 0, (result.output, result.stderr)
        return json.loads(result.stdout)


@pytest.fixture
def licensing(api, tmp_path) -> Cli:
    return Cli(CliRunner(), ChaliceAdapter(api.client), str(tmp_path / "no-session"))
