"""The same package under each Python that Lambda runs and this machine has: the runtime chosen by
measurement (``python -m bench.runtimes DIR`` for a package built by ``python -m infra.build``).

Chalice packages for the Python that runs it, so the package of another version is made from the
built one: its files kept, the wheels tagged for this version's ABI (``Tag: cp311-cp311-…`` in their
``WHEEL``; the ``abi3`` ones work on every version) replaced by the same pins' wheels for the other
version, and every module compiled again by that interpreter (unchecked-hash, as ``infra.build``
does). Then ``bench.cold_start`` times each the same way, read-only, with ``python -S``.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench import cold_start

# Lambda's Python runtimes (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html) that
# Chalice 1.34's packager knows (chalice/deploy/packager.py, _RUNTIME_TO_ABI).
LAMBDA_PYTHONS = ("3.11", "3.12", "3.13", "3.14")


def interpreters() -> dict[str, str]:
    """Lambda's Pythons this machine has: pyenv's, else on PATH."""
    found = {}
    for version in LAMBDA_PYTHONS:
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
        path = candidates[-1] if candidates else shutil.which(f"python{version}")
        if path:
            found[version] = path
    return found


def _version_specific(root: Path, abi: str) -> dict[str, str]:
    """The package's wheels built for one CPython ABI: distribution name -> version."""
    found = {}
    for wheel in root.glob("*.dist-info/WHEEL"):
        if f"-{abi}-" in wheel.read_text():
            name, version = wheel.parent.name.removesuffix(".dist-info").rsplit("-", 1)
            found[name] = version
    return found


def retargeted(task_root: Path, python: str, version: str, into: Path) -> Path:
    """The unzipped package ``task_root`` made into the same package for ``python``."""
    shutil.copytree(task_root, into, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["chmod", "-R", "u+w", str(into)], check=True)
    built = f"cp{sys.version_info.major}{sys.version_info.minor}"
    pins = _version_specific(into, built)
    for so in into.rglob(f"*.cpython-{built[2:]}-*.so"):
        so.unlink()
    with tempfile.TemporaryDirectory() as wheels:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", version, "--implementation", "cp", "--platform", "manylinux2014_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "--target", wheels,
                        *(f"{name}=={v}" for name, v in pins.items())], check=True)
        for entry in Path(wheels).iterdir():
            target = into / entry.name
            if target.is_dir():
                shutil.rmtree(target)
            shutil.move(str(entry), target)
    for stale in {p.parent for p in into.glob("*.dist-info/WHEEL") if f"-{built}-" in p.read_text()}:
        shutil.rmtree(stale)
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", "-s",
                    str(into), "-p", "/var/task", str(into)], env={**os.environ, "PYTHONHASHSEED": "0"}, check=True)
    subprocess.run(["chmod", "-R", "a-w", str(into)], check=True)
    return into


def run(package: Path, runs: int = 11) -> dict:
    """Cold start of the package in ``package`` under every Lambda Python found here."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        task_root = Path(tmp) / "built"
        with zipfile.ZipFile(package / "deployment.zip") as z:
            z.extractall(task_root)
        for version, python in interpreters().items():
            tree = retargeted(task_root, python, version, Path(tmp) / version)
            results[version] = {"python": python, **cold_start.timed(python, tree, runs)}
        subprocess.run(["chmod", "-R", "u+w", tmp], check=True)
    return {"runs": runs, "load_average": os.getloadavg(), "by_python": results}


def report(r: dict) -> list[str]:
    return [f"runtime python{v}: import app {m['import_app_s'] * 1000:.0f} ms, import boto3 + client "
            f"{m['boto3_client_s'] * 1000:.0f} ms (medians of {r['runs']}), ratio {m['ratio']:.2f}"
            for v, m in r["by_python"].items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="a directory of `python -m infra.build --out DIR`")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    print("\n".join(report(run(args.package, args.runs))))


if __name__ == "__main__":
    main()
