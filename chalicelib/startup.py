"""Configuration at startup: ``configure(settings)`` is the one call that hands the settings to
the service. app.py makes it at cold start with ``Settings.from_environ()``; the tests, the
benchmarks and the local stack make it with settings of their own, whenever they like (it may
be called again: everything that cached a client or a table name made from the previous
settings is reset)."""

from __future__ import annotations

from chalicelib import notifications, settings, store
from chalicelib.observability import configure_metrics
from chalicelib.security import access_tokens, cursors, signing
from chalicelib.settings import Settings


def configure(new: Settings) -> Settings:
    settings.use(new)
    store.configure(new)
    signing.reset_key_ring()
    cursors.reset_cursor_key()
    access_tokens.reset()
    notifications.reset_client()
    configure_metrics(new.metrics_namespace)
    return new


def configured() -> bool:
    return settings.is_configured()
