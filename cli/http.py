"""The CLI's one way to speak HTTP to the service.

Every request goes to ``base_url`` and nowhere else. The sessions come from ``session_factory``
(``requests.Session`` by default): tests give one with a transport adapter mounted that answers
from the app in process, so every command runs unchanged against it. Each thread gets its own
session (``simulate`` runs a thread pool); a session keeps its connections open between requests.

A ``429 RATE_LIMITED`` or ``503 UNAVAILABLE`` is retried after the ``Retry-After`` the service
sends (seconds), a bounded number of times, each retry announced on stderr (see ``RetryPolicy``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 30.0

# A 429 is the service refusing before doing anything: any request may be sent again. A 503 may
# come after the work was done (a gateway timeout while the function went on), so it is retried
# only where doing it twice is harmless: methods that are idempotent here, and requests that carry
# an Idempotency-Key (activations).
RETRY_ALWAYS = frozenset({429})
RETRY_IF_IDEMPOTENT = frozenset({503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})


def _stderr(message: str) -> None:
    # sys.stderr at call time: click's test runner swaps it.
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class RetryPolicy:
    """How 429 and 503 answers are retried: at most ``retries`` more attempts, each after the
    answer's ``Retry-After`` (delta-seconds) or, without a usable one, after ``backoff_s`` doubled
    at each retry. An answer asking for more than ``max_wait_s`` is not waited for: it is the
    command's answer (a rate limit of an hour is for a person to read, not for the CLI to sit out).
    ``sleep`` and ``notify`` are injectable so tests neither wait nor print."""

    retries: int = 3
    max_wait_s: float = 30.0
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    notify: Callable[[str], None] = field(default=_stderr, repr=False)

    def decide(
        self, response: requests.Response, method: str, headers: dict[str, str], attempts: int
    ) -> tuple[float | None, str]:
        """After ``attempts`` sends answered by a 429 or 503: the seconds to wait before sending
        again, or ``None`` and why not."""
        idempotent = method.upper() in IDEMPOTENT_METHODS or any(name.lower() == "idempotency-key" for name in headers)
        if response.status_code not in RETRY_ALWAYS and not idempotent:
            return None, "not retried: it may have been done already (a POST without an Idempotency-Key)"
        if attempts > self.retries:
            return None, f"giving up after {attempts} attempt{'s' if attempts > 1 else ''}"
        wait = retry_after_s(response.headers.get("Retry-After"))
        if wait is None:
            wait = self.backoff_s * 2 ** (attempts - 1)
        if wait > self.max_wait_s:
            return None, f"not retried: the service asks to wait {wait:g} s, more than {self.max_wait_s:g} s"
        return wait, ""


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` as delta-seconds (RFC 9110), or ``None`` when absent or not a number of
    seconds (an HTTP date: the service never sends one)."""
    value = (value or "").strip()
    return float(value) if value.isascii() and value.isdigit() else None


class ApiError(Exception):
    """The service answered with an error body ``{"error": {"code", "message", "detail"}}``
    (or with something else that is not a success: then the code is ``HTTP_<status>``)."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail or {}
        super().__init__(f"{code}: {message}")

    def as_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "detail": self.detail}, "status": self.status}


class Unreachable(Exception):
    """No HTTP answer at all: connection refused, DNS, timeout, TLS."""


@dataclass
class Credential:
    """One role's credential as request headers (never printed, never logged)."""

    headers: dict[str, str] = field(repr=False)

    @classmethod
    def bearer(cls, key: str) -> Credential:
        return cls({"Authorization": f"Bearer {key}"})

    @classmethod
    def activation(cls, key: str) -> Credential:
        return cls({"X-Activation-Key": key})

    @classmethod
    def device(cls, token: str) -> Credential:
        return cls({"Authorization": f"Device {token}"})


class Client:
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        session_factory: Callable[[], requests.Session] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self._session_factory = session_factory or requests.Session
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.requests_sent = 0

    # -- sessions ------------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            session.headers["User-Agent"] = "licensing-cli"
            session.trust_env = False  # no proxy from the environment: the URL given is the one reached
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    # -- requests ------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        credential: Credential | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """The raw response of one request (any status), after the retries ``self.retry`` allows
        for a 429 or 503; ``Unreachable`` when nothing answered."""
        all_headers = {"Accept": "application/json", **(credential.headers if credential else {}), **(headers or {})}
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempts = 0
        while True:
            with self._lock:
                self.requests_sent += 1
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    json=json,
                    params=query or None,
                    headers=all_headers,
                    timeout=self.timeout_s,
                    allow_redirects=False,
                )
            except requests.RequestException as e:
                raise Unreachable(f"cannot reach {self.base_url}: {_reason(e)}") from e
            attempts += 1
            if response.status_code not in RETRY_ALWAYS | RETRY_IF_IDEMPOTENT:
                return response
            wait, why_not = self.retry.decide(response, method, all_headers, attempts)
            if wait is None:
                self.retry.notify(f"licensing: {method} {path}: {_status(response)}; {why_not}")
                return response
            self.retry.notify(
                f"licensing: {method} {path}: {_status(response)}; retrying in {wait:g} s "
                f"(retry {attempts} of {self.retry.retries})"
            )
            self.retry.sleep(wait)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The parsed JSON body of a successful answer; ``ApiError`` for any other."""
        response = self.send(method, path, **kwargs)
        raise_for_error(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as e:
            raise ApiError(
                response.status_code,
                "BAD_RESPONSE",
                "The service answered something that is not JSON.",
                {"body": response.text[:200]},
            ) from e

    def text(self, method: str, path: str, **kwargs: Any) -> str:
        """The body of a successful answer as text (CSV exports)."""
        response = self.send(method, path, headers={"Accept": "text/csv, */*"}, **kwargs)
        raise_for_error(response)
        return response.content.decode(response.encoding or "utf-8")

    def pages(
        self,
        path: str,
        items_key: str,
        *,
        credential: Credential,
        params: dict[str, Any] | None = None,
        follow: bool = True,
    ) -> Iterator[tuple[list[Any], str | None]]:
        """Each page of a listing as (items, next cursor), following ``next`` while ``follow``."""
        query = dict(params or {})
        while True:
            body = self.call("GET", path, credential=credential, params=query)
            cursor = body.get("next")
            yield body.get(items_key) or [], cursor
            if not follow or not cursor:
                return
            query["next"] = cursor

    def listing(
        self,
        path: str,
        items_key: str,
        *,
        credential: Credential,
        params: dict[str, Any] | None = None,
        follow: bool = True,
    ) -> tuple[list[Any], str | None]:
        """The items of one page, or of every page with ``follow``, and the cursor left over."""
        found: list[Any] = []
        cursor = None
        for items, next_cursor in self.pages(path, items_key, credential=credential, params=params, follow=follow):
            found.extend(items)
            cursor = next_cursor
        return found, cursor


def raise_for_error(response: requests.Response) -> None:
    if 200 <= response.status_code < 300:
        return
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("code"):
        raise ApiError(
            response.status_code,
            str(error["code"]),
            str(error.get("message") or ""),
            error.get("detail") if isinstance(error.get("detail"), dict) else {},
        )
    raise ApiError(
        response.status_code,
        f"HTTP_{response.status_code}",
        response.reason or "unexpected answer",
        {"body": response.text[:200]} if response.text else {},
    )


def _status(response: requests.Response) -> str:
    try:
        error = response.json().get("error") or {}
        code = error.get("code") if isinstance(error, dict) else None
    except (ValueError, AttributeError):
        code = None
    return f"{response.status_code} {code}" if code else str(response.status_code)


def _reason(e: requests.RequestException) -> str:
    if isinstance(e, requests.Timeout):
        return "timed out"
    if isinstance(e, requests.ConnectionError):
        return "connection refused or host unknown (is the stack running? make run)"
    return type(e).__name__
