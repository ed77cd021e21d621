"""Parameter types shared by the commands: months, times, durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import click


class Month(click.ParamType):
    """``YYYY-MM``."""

    name = "YYYY-MM"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        match = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if not match or not 1 <= int(match.group(2)) <= 12:
            self.fail(f"{value!r} is not a month such as 2026-11", param, ctx)
        return text


class Timestamp(click.ParamType):
    """A date (``2026-11-01``, midnight UTC) or an RFC 3339 time, sent as ``YYYY-MM-DDTHH:MM:SSZ``."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not a date (2026-11-01) or an RFC 3339 time (2026-11-01T00:00:00Z)", param, ctx)
        if parsed.tzinfo is None:
            if len(text) > 10:
                self.fail(f"{value!r} has no time zone: end it with Z (UTC) or an offset", param, ctx)
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Duration(click.ParamType):
    """Seconds, or a number with a unit: ``90``, ``30m``, ``24h``, ``7d``, ``1w``."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"(\d+)\s*([smhdw]?)", str(value).strip().lower())
        if not match:
            self.fail(f"{value!r} is not a duration such as 3600, 30m, 24h or 7d", param, ctx)
        return int(match.group(1)) * _UNITS[match.group(2) or "s"]


MONTH = Month()
TIMESTAMP = Timestamp()
DURATION = Duration()


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def human_duration(seconds: Any) -> str:
    if not isinstance(seconds, int) or seconds <= 0:
        return str(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds} s ({seconds // size}{unit})"
    return f"{seconds} s"
