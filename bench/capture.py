"""stdout, where the app logs and publishes its EMF metrics: captured and counted."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Captured:
    bytes: int = 0
    text: str = ""


@contextlib.contextmanager
def stdout_captured(keep: bool = False) -> Iterator[Captured]:
    """Send file descriptor 1 to a temporary file for the block and count its bytes: the
    service's log lines and EMF metrics, as Lambda would ship them to CloudWatch Logs. Powertools
    holds ``sys.stdout`` itself, so redirecting the descriptor is the only way to catch it."""
    captured = Captured()
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            captured.bytes = os.fstat(sink.fileno()).st_size
            if keep:
                sink.seek(0)
                captured.text = sink.read().decode(errors="replace")
