"""The local stack as ``make run`` starts it (``python -m local.stack``), in a subprocess.

``tests/conftest.py`` has set this process's environment for in-process moto (and removed
``AWS_ENDPOINT_URL``); the stack gets a clean environment of its own instead: only what a
shell would have, plus ``OPERATOR_KEY``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_KEY = "lk_op.e2e-operator-key-0123456789abcdef"
READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20

# What a developer's shell passes on; nothing of the AWS_*/TABLE_PREFIX/... test settings.
_PASSED_ON = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return any(alive(pid) for pid in group_members(pgid))


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[3]) == pgid:
                members.append(int(stat.parent.name))
    return members


def chalice_local_pids(port: int) -> list[int]:
    """Live processes running ``chalice local ... --port <port>``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
            if (
                any(a.endswith("chalice") for a in args)
                and "local" in args
                and str(port) in args
                and alive(int(cmdline.parent.name))
            ):
                found.append(int(cmdline.parent.name))
    return found


@dataclass
class RunningStack:
    process: subprocess.Popen
    port: int
    log_path: Path
    info: dict[str, Any]

    @property
    def base_url(self) -> str:
        return self.info["base_url"]

    @property
    def api_pgid(self) -> int:
        return self.info["api_pid"]  # chalice local leads its own process group

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int) -> int:
        """Send ``sig`` as a user would, and the stack's exit code (it must exit in time)."""
        self.process.send_signal(sig)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"the stack did not exit within {STOP_TIMEOUT_S} s of {signal.Signals(sig).name}:\n"
                f"{self.output()[-4000:]}"
            )


def start_stack(tmp_path: Path, extra_env: dict[str, str] | None = None) -> RunningStack:
    port = free_port()
    log_path = tmp_path / "stack.log"
    env = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    env["OPERATOR_KEY"] = OPERATOR_KEY
    env.update(extra_env or {})
    with log_path.open("wb") as log:  # a file, not a pipe: nobody has to drain it
        # --no-schedules: no sweep runs on the wall clock; the tests run each one when they mean to.
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", "--port", str(port), "--json", "--no-schedules"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith('{"event": "local-stack-ready"'):
                return RunningStack(process, port, log_path, json.loads(line))
        if process.poll() is not None:
            pytest.fail(
                f"the stack exited with {process.returncode} before it was ready:\n"
                f"{log_path.read_text(errors='replace')[-4000:]}"
            )
        time.sleep(0.1)
    kill_everything(process, None)
    pytest.fail(f"the stack was not ready within {READY_TIMEOUT_S} s:\n{log_path.read_text(errors='replace')[-4000:]}")


def kill_everything(process: subprocess.Popen, api_pgid: int | None) -> None:
    """Whatever a failed test left running."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if api_pgid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(api_pgid, signal.SIGKILL)


def loadmaster(n: int) -> dict:
    """The activation body of the ``n``-th LoadMaster of a fleet: its own MAC and address."""
    return {
        "mac": f"00:50:56:{n >> 8:02x}:{n & 255:02x}:01",
        "ip": f"10.{n >> 8}.{n & 255}.1",
        "port": 443,
        "sku": "VLM-MAX-SPLA",
        "image": "LoadMaster-VLM-7.2.47-SPLA.ova",
        "version": "7.2.47",
    }
