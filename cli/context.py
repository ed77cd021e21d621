"""What every command shares: the ``Env`` built from the global options (``@pass_env``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click
import requests

from cli import output
from cli.http import Client, Credential, RetryPolicy

KEY_HELP = "Prefer the environment variable: a key given as a flag lands in the shell history and the process list."


@dataclass
class Env:
    """What every command gets (``@pass_env``)."""

    url: str
    json: bool
    session_factory: Callable[[], requests.Session] | None
    retry: RetryPolicy
    _operator_key: str | None = field(repr=False)
    _api_key: str | None = field(repr=False)
    _client: Client | None = field(default=None, repr=False)

    @property
    def client(self) -> Client:
        if self._client is None:
            try:
                self._client = Client(self.url, session_factory=self.session_factory, retry=self.retry)
            except ValueError as e:
                raise click.BadParameter(str(e), param_hint="--url") from e
        return self._client

    @property
    def operator(self) -> Credential:
        if not self._operator_key:
            raise click.UsageError("this is an operator command: set LICENSING_OPERATOR_KEY (or --operator-key)")
        return Credential.bearer(self._operator_key)

    @property
    def tenant(self) -> Credential:
        if not self._api_key:
            raise click.UsageError("this is a tenant command: set LICENSING_API_KEY to the tenant's API key "
                                   "(or --api-key)")
        return Credential.bearer(self._api_key)

    def show(self, data: Any, human: Callable[[Any], None]) -> None:
        """``data`` as JSON with ``--json``, else through ``human``."""
        if self.json:
            output.emit_json(data)
        else:
            human(data)


pass_env = click.make_pass_decorator(Env)
