"""The deployment package made for another Python or machine than the one that built it, so that
it can be measured here: Chalice packages for the Python that runs it, and a package for arm64
cannot import its compiled code on x86_64. The files are kept, the wheels with compiled code
(``Root-Is-Purelib: false`` in their ``WHEEL``) replaced by the same pins' wheels for the target,
and every module compiled again by the target's interpreter (unchecked-hash, as ``infra.build``).
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from infra.build import compile_bytecode

ROOT = Path(__file__).resolve().parent.parent

# Lambda's Python runtimes (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html) that
# Chalice 1.34's packager knows (chalice/deploy/packager.py, _RUNTIME_TO_ABI).
LAMBDA_PYTHONS = ("3.11", "3.12", "3.13", "3.14")


def this_machine() -> str:
    """This machine in wheel tags' terms: x86_64 or aarch64."""
    return "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def supported() -> tuple[str, ...]:
    """Lambda's Pythons the code runs on: from the oldest ``requires-python`` allows (the code
    uses what that version brings, such as PEP 695's type parameters)."""
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    oldest = tuple(int(part) for part in spec.removeprefix(">=").split("."))
    return tuple(v for v in LAMBDA_PYTHONS if tuple(int(part) for part in v.split(".")) >= oldest)


def interpreters() -> dict[str, str]:
    """Lambda's Pythons the code runs on that this machine has: pyenv's, else on PATH."""
    found = {}
    for version in supported():
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
        path = candidates[-1] if candidates else shutil.which(f"python{version}")
        if path:
            found[version] = path
    return found


def _binary(root: Path) -> dict[str, str]:
    """The package's wheels with compiled code (per Python or per machine): name -> version."""
    found = {}
    for wheel in root.glob("*.dist-info/WHEEL"):
        if "Root-Is-Purelib: false" in wheel.read_text():
            name, version = wheel.parent.name.removesuffix(".dist-info").rsplit("-", 1)
            found[name] = version
    return found


def retargeted(task_root: Path, python: str, version: str, into: Path, machine: str = "x86_64") -> Path:
    """The unzipped package ``task_root`` made into the same package for ``python`` (``version``)
    on ``machine``: its wheels with compiled code replaced by the same pins' for them."""
    shutil.copytree(task_root, into, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["chmod", "-R", "u+w", str(into)], check=True)
    pins = _binary(into)
    for stale in [
        *into.glob("*.so"),
        *(p.parent for p in into.glob("*.dist-info/WHEEL") if p.parent.name.rsplit("-", 1)[0] in pins),
    ]:
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    with tempfile.TemporaryDirectory() as wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                version,
                "--implementation",
                "cp",
                "--platform",
                f"manylinux2014_{machine}",
                "--platform",
                f"manylinux_2_17_{machine}",
                "--target",
                wheels,
                *(f"{name}=={v}" for name, v in pins.items()),
            ],
            check=True,
        )
        for entry in Path(wheels).iterdir():
            target = into / entry.name
            if target.is_dir():
                shutil.rmtree(target)
            shutil.move(str(entry), target)
    if not compile_bytecode(into, python):
        raise SystemExit(f"some module of {into} does not compile under {python}")
    subprocess.run(["chmod", "-R", "a-w", str(into)], check=True)
    return into
