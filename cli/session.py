"""The signed-in account's tokens, kept between commands (``licensing login``).

One file, ``session.json`` in the user's config directory (``$LICENSING_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/licensing``, else ``~/.config/licensing``), readable by its owner only (0600, in
a 0700 directory), holding one session per service URL: a local stack and a deployment can be
signed in at once. An access token is used until a minute before it expires, then renewed with
the refresh token (``POST /v1/sessions/refresh``) and the file rewritten; a refresh the service
refuses means signing in again. The password is never stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "session.json"
# Renewed this long before the service would refuse it (clock skew, a slow request).
MARGIN_S = 60


def config_dir() -> Path:
    if os.environ.get("LICENSING_CONFIG_DIR"):
        return Path(os.environ["LICENSING_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "licensing"


@dataclass
class Session:
    email: str
    access_token: str
    refresh_token: str | None
    expires_at: float  # epoch seconds

    @classmethod
    def from_answer(
        cls, email: str, answer: dict[str, Any], previous: Session | None = None, now: Callable[[], float] = time.time
    ) -> Session:
        """From ``POST /v1/sessions`` (or ``/refresh``, which may not send a new refresh token)."""
        refresh = answer.get("refresh_token") or (previous.refresh_token if previous else None)
        return cls(email, answer["access_token"], refresh, now() + int(answer.get("expires_in") or 0))

    def fresh(self, now: Callable[[], float] = time.time) -> bool:
        return now() < self.expires_at - MARGIN_S


class SessionStore:
    """``session.json``: URL -> session."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = self.directory / FILE_NAME

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable or damaged: as if signed out (login writes it afresh)
        return data if isinstance(data, dict) else {}

    def load(self, url: str) -> Session | None:
        entry = self._read().get(_key(url))
        try:
            return Session(**entry) if isinstance(entry, dict) else None
        except TypeError:
            return None

    def save(self, url: str, session: Session) -> None:
        data = self._read()
        data[_key(url)] = asdict(session)
        self._write(data)

    def forget(self, url: str) -> bool:
        data = self._read()
        if data.pop(_key(url), None) is None:
            return False
        self._write(data)
        return True

    def _write(self, data: dict[str, Any]) -> None:
        """Atomically, and readable by the owner only from the first byte (never chmod after)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".session-", suffix=".json")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _key(url: str) -> str:
    return url.rstrip("/")
