"""What every command shares: the ``Env`` built from the global options (``@pass_env``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click
import requests

from cli import output
from cli.http import ApiError, Client, Credential, RetryPolicy
from cli.session import Session, SessionStore

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
    tenant_id: str | None = None  # X-Tenant-Id with an account's token (--tenant, LICENSING_TENANT_ID)
    _client: Client | None = field(default=None, repr=False)
    _session: Session | None = field(default=None, repr=False)

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
        """The tenant's API key when one is set, else the signed-in account's token (with
        ``X-Tenant-Id`` when ``--tenant`` names one of its tenants)."""
        if self._api_key:
            return Credential.bearer(self._api_key)
        session = self.session()
        if session is None:
            raise click.UsageError(
                "this is a tenant command: set LICENSING_API_KEY to the tenant's API key "
                "(or --api-key), or sign in with licensing login"
            )
        headers = {"Authorization": f"Bearer {session.access_token}"}
        if self.tenant_id:
            headers["X-Tenant-Id"] = self.tenant_id
        return Credential(headers)

    @property
    def account(self) -> Credential:
        """The signed-in account's token (its own routes: /v1/account, signing out)."""
        session = self.session()
        if session is None:
            raise click.UsageError("not signed in at this URL: licensing login")
        return Credential.bearer(session.access_token)

    @property
    def sessions(self) -> SessionStore:
        return SessionStore()

    def session(self) -> Session | None:
        """The account's session at this URL, renewed with its refresh token once the access
        token is (nearly) expired; None when not signed in."""
        if self._session is not None and self._session.fresh():
            return self._session
        store = self.sessions
        session = store.load(self.url)
        if session is None or session.fresh():
            self._session = session
            return session
        if not session.refresh_token:
            raise click.UsageError(f"the session of {session.email} has expired: sign in again with licensing login")
        try:
            answer = self.client.call("POST", "/v1/sessions/refresh", json={"refresh_token": session.refresh_token})
        except ApiError as e:
            if e.status in (400, 401, 403):
                store.forget(self.url)
                raise click.UsageError(
                    f"the session of {session.email} has ended ({e.code}): sign in again with licensing login"
                ) from e
            raise
        self._session = Session.from_answer(session.email, answer, session)
        store.save(self.url, self._session)
        return self._session

    def show(self, data: Any, human: Callable[[Any], None]) -> None:
        """``data`` as JSON with ``--json``, else through ``human``."""
        if self.json:
            output.emit_json(data)
        else:
            human(data)


pass_env = click.make_pass_decorator(Env)
