"""The same package under each Python that Lambda runs and this machine has: the runtime chosen by
measurement (``python -m bench.runtimes DIR`` for a package built by ``python -m infra.build``).

The package of each other version is made from the built one (``bench.retarget``); then
``bench.cold_start`` times each the same way, read-only, with ``python -S``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

from bench import cold_start
from bench.retarget import interpreters, retargeted, this_machine


def run(package: Path, runs: int = 11) -> dict:
    """Cold start of the package in ``package`` under every Lambda Python found here."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        task_root = Path(tmp) / "built"
        with zipfile.ZipFile(package / "deployment.zip") as z:
            z.extractall(task_root)
        for version, python in interpreters().items():
            tree = retargeted(task_root, python, version, Path(tmp) / version, this_machine())
            results[version] = {"python": python, **cold_start.timed(python, tree, runs)}
        subprocess.run(["chmod", "-R", "u+w", tmp], check=True)
    return {"runs": runs, "load_average": os.getloadavg(), "by_python": results}


def report(r: dict) -> list[str]:
    return [
        f"runtime python{v}: import app {m['import_app_s'] * 1000:.0f} ms, import boto3 + client "
        f"{m['boto3_client_s'] * 1000:.0f} ms (medians of {r['runs']}), ratio {m['ratio']:.2f}"
        for v, m in r["by_python"].items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="a directory of `python -m infra.build --out DIR`")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    print("\n".join(report(run(args.package, args.runs))))


if __name__ == "__main__":
    main()
