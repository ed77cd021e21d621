"""Printing: JSON for scripts (``--json``), aligned tables and ``key: value`` blocks for people.

Data goes to stdout; notes, warnings and progress go to stderr, so that ``--json`` output can
be piped into ``jq`` as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def note(message: str) -> None:
    click.echo(message, err=True)


def warn(message: str) -> None:
    click.secho(message, err=True, fg="yellow")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(cell(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def columns_of(rows: Sequence[Mapping[str, Any]], preferred: Sequence[str]) -> list[str]:
    """The preferred columns the rows have; when they have none of them (a shape this CLI does
    not know yet), every scalar field of the first row."""
    present = [c for c in preferred if any(c in row for row in rows)]
    if present or not rows:
        return present or list(preferred)
    return [k for k, v in rows[0].items() if not isinstance(v, (dict, list))]


def table(rows: Iterable[Mapping[str, Any]], preferred: Sequence[str], *, empty: str = "(none)") -> None:
    rows = list(rows)
    if not rows:
        note(empty)
        return
    columns = columns_of(rows, preferred)
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def fields(data: Mapping[str, Any], order: Sequence[str] = ()) -> None:
    """``key: value`` lines, ``order`` first, then whatever else the answer has."""
    keys = [k for k in order if k in data] + [k for k in data if k not in order]
    if not keys:
        return
    width = max(len(k) for k in keys)
    for key in keys:
        value = data[key]
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            click.echo(f"{key}:")
            for item in value:
                click.echo("  - " + ", ".join(f"{k}={cell(v)}" for k, v in item.items()))
        else:
            click.echo(f"{key.ljust(width)}  {cell(value)}")
