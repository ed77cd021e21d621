"""Cold start of the deployment package as Lambda runs it: ``deployment.zip`` (``python -m
infra.build``) unzipped read-only, as /var/task is, and ``python -S -c "import app"`` run in it,
so that nothing outside the package (no venv, no site-packages) is imported. Against ``import
boto3`` plus a DynamoDB client from the same package. Each is timed inside a fresh interpreter
(its own start excluded), alternating, median of several runs; the heaviest imports of the app
(``-X importtime``); and what the zip holds. ``python -m bench.cold_start DIR...`` for packages built
already (by another Python: ``/path/to/venv/bin/python -m infra.build --out DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

from bench.retarget import interpreters, retargeted, this_machine
from tests.infra.drill import read_only_command, unzip_read_only

APP = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
BASELINE = (
    "import time; t = time.perf_counter(); import boto3; boto3.client('dynamodb', region_name='us-east-1'); "
    "print(time.perf_counter() - t)"
)


def lambda_environment() -> dict[str, str]:
    """What the prod stage's Lambda sees (the template's variables), with dummy credentials."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {
        **keep,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STAGE": "prod",
        "TABLE_PREFIX": "licensing-prod-",
        "SIGNING_KEY_SECRET_ID": "licensing/prod/lease-signing-key",
        "SIGNING_KEY_AUTOCREATE": "false",
        "CURSOR_KEY_SECRET_ID": "licensing/prod/cursor-key",
        "OPERATOR_KEY_SHA256": "",
        "POWERTOOLS_SERVICE_NAME": "licensing",
        "POWERTOOLS_METRICS_NAMESPACE": "MeteredLicensing/prod",
        "LOG_LEVEL": "INFO",
    }


def build(out: Path) -> Path:
    """The deployment package, as ``make package`` builds it, in ``out``."""
    subprocess.run(
        [sys.executable, "-m", "infra.build", "--out", str(out)],
        cwd=Path(__file__).parents[1],
        check=True,
        capture_output=True,
    )
    return out


def _time(python: str, task_root: Path, code: str) -> float:
    command = read_only_command(task_root, [python, "-S", "-c", code])
    out = subprocess.run(command, cwd=task_root, env=lambda_environment(), capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def heaviest_imports(python: str, task_root: Path, top: int = 8) -> dict[str, list[tuple[str, float]]]:
    """Import time of ``import app`` from the package, from ``-X importtime``: the modules' own
    (self) times, the heaviest modules and the sums per top-level package."""
    command = read_only_command(task_root, [python, "-S", "-X", "importtime", "-c", "import app"])
    out = subprocess.run(command, cwd=task_root, env=lambda_environment(), capture_output=True, text=True, check=True)
    by_module: dict[str, float] = {}
    for line in out.stderr.splitlines():
        parts = line.split(":", 1)[1].split("|") if line.startswith("import time:") else []
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        by_module[parts[2].strip()] = int(parts[0]) / 1e6
    by_package: dict[str, float] = {}
    for module, seconds in by_module.items():
        by_package[module.split(".")[0]] = by_package.get(module.split(".")[0], 0.0) + seconds
    return {
        "packages": sorted(by_package.items(), key=lambda kv: -kv[1])[:top],
        "modules": sorted(by_module.items(), key=lambda kv: -kv[1])[:top],
    }


def timed(python: str, task_root: Path, runs: int) -> dict:
    """``import app`` against ``import boto3`` + a client, ``runs`` of each, alternating after one
    warm-up of each (the first is reported: the file cache cold for this tree)."""
    first = _time(python, task_root, APP), _time(python, task_root, BASELINE)
    app_times, baseline_times = [], []
    for _ in range(runs):
        app_times.append(_time(python, task_root, APP))
        baseline_times.append(_time(python, task_root, BASELINE))
    app_s, baseline_s = statistics.median(app_times), statistics.median(baseline_times)
    return {
        "runs": runs,
        "import_app_s": app_s,
        "boto3_client_s": baseline_s,
        "ratio": app_s / baseline_s,
        "ratio_of_fastest": min(app_times) / min(baseline_times),
        "first_import_app_s": first[0],
        "first_boto3_client_s": first[1],
        "import_app_runs": app_times,
        "boto3_client_runs": baseline_times,
    }


def contents(deployment: Path) -> dict:
    """The zip's size, and what it holds by top-level entry and by kind of file."""
    with zipfile.ZipFile(deployment) as z:
        infos = [i for i in z.infolist() if not i.is_dir()]
    by_top: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for i in infos:
        by_top[i.filename.split("/")[0]] = by_top.get(i.filename.split("/")[0], 0) + i.file_size
        name = i.filename.rsplit("/", 1)[-1]
        kind = "dist-info" if ".dist-info/" in i.filename else name.rsplit(".", 1)[-1] if "." in name else name
        by_kind[kind] = by_kind.get(kind, 0) + i.file_size
    return {
        "zip_bytes": deployment.stat().st_size,
        "unzipped_bytes": sum(i.file_size for i in infos),
        "files": len(infos),
        "largest_unzipped": sorted(by_top.items(), key=lambda kv: -kv[1])[:8],
        "by_kind": sorted(by_kind.items(), key=lambda kv: -kv[1])[:8],
        "not_run": sorted(i.filename for i in infos if i.filename.endswith((".pyi", "py.typed", "/RECORD"))),
    }


def deployed_as(package: Path) -> tuple[str, str]:
    """The API function's runtime version and machine in the package's template: ("3.13", "aarch64")."""
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    props = resources["APIHandler"]["Properties"]
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[props.get("Architectures", ["x86_64"])[0]]
    return props["Runtime"].removeprefix("python"), machine


def run(package: Path, runs: int = 21) -> dict:
    """The package in ``package`` (``deployment.zip`` and ``sam.json``), run by the interpreter of the
    functions' runtime. A package for another machine (arm64 here on x86_64) is measured as the same
    package with this machine's wheels (``bench.retarget``), and says so."""
    version, machine = deployed_as(package)
    here = this_machine()
    python = interpreters().get(version)
    if python is None:
        raise SystemExit(f"the functions run python{version}, which this machine does not have (pyenv install)")
    task_root = unzip_read_only(package / "deployment.zip")
    measured = (
        task_root
        if machine == here
        else retargeted(task_root, python, version, task_root.with_name(task_root.name + "-" + here), here)
    )
    try:
        return {
            **timed(python, measured, runs),
            "load_average": os.getloadavg(),
            "python": version,
            "machine": machine,
            "measured_on": here,
            "heaviest_imports": heaviest_imports(python, measured),
            "package": contents(package / "deployment.zip"),
        }
    finally:
        for tree in {task_root, measured}:
            subprocess.run(["chmod", "-R", "u+w", str(tree)], check=True)
            shutil.rmtree(tree)


def report(r: dict) -> list[str]:
    verdict = "met" if r["ratio"] <= 1.6 else f"missed by {r['ratio'] - 1.6:.2f}"
    p = r["package"]
    wheels = f", its wheels for {r['measured_on']}" if r["machine"] != r["measured_on"] else ""
    return [
        f"cold start (the package for python{r['python']} {r['machine']}, read-only, -S{wheels}): import app "
        f"{r['import_app_s'] * 1000:.0f} ms vs import boto3 + DynamoDB client {r['boto3_client_s'] * 1000:.0f} ms "
        f"(median of {r['runs']}): ratio {r['ratio']:.2f} (target <= 1.6: {verdict}); fastest runs' ratio "
        f"{r['ratio_of_fastest']:.2f}; first runs {r['first_import_app_s'] * 1000:.0f} / "
        f"{r['first_boto3_client_s'] * 1000:.0f} ms; load average {r['load_average'][0]:.1f}",
        "cold start: import app's own time by package: "
        + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in r["heaviest_imports"]["packages"]),
        "cold start: heaviest modules (own time): "
        + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in r["heaviest_imports"]["modules"]),
        f"package: deployment.zip {p['zip_bytes'] / 1e6:.1f} MB ({p['unzipped_bytes'] / 1e6:.1f} MB unzipped, "
        f"{p['files']} files); largest: "
        + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in p["largest_unzipped"][:6])
        + "; by kind: "
        + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in p["by_kind"][:6])
        + f"; stubs and file lists left: {len(p['not_run'])}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="Cold start of packages built by `python -m infra.build --out DIR`")
    parser.add_argument("packages", type=Path, nargs="+")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    for package in args.packages:
        print("\n".join(report(run(package, args.runs))), flush=True)


if __name__ == "__main__":
    main()
