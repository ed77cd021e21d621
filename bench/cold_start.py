"""Cold start: ``import app`` against ``import boto3`` plus creating a DynamoDB client, each timed
inside a fresh interpreter (interpreter start-up excluded), alternating, median of several runs;
the heaviest imports of the app (``-X importtime``); and the deployment package's size.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

APP = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
BASELINE = ("import time; t = time.perf_counter(); import boto3; boto3.client('dynamodb', region_name='us-east-1'); "
            "print(time.perf_counter() - t)")


def lambda_environment() -> dict[str, str]:
    """What the prod stage's Lambda sees (.chalice/config.json), with dummy credentials."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {**keep, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1", "STAGE": "prod", "TABLE_PREFIX": "licensing-prod-",
            "SIGNING_KEY_SECRET_ID": "licensing/prod/lease-signing-key", "SIGNING_KEY_AUTOCREATE": "false",
            "OPERATOR_KEY_SHA256": "", "POWERTOOLS_SERVICE_NAME": "licensing",
            "POWERTOOLS_METRICS_NAMESPACE": "MeteredLicensing", "LOG_LEVEL": "INFO"}


def _time(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=lambda_environment(), capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def heaviest_imports(top: int = 8) -> dict[str, list[tuple[str, float]]]:
    """Import time of ``import app``, from ``python -X importtime``: the modules' own (self) times,
    the heaviest modules and the sums per top-level package."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app"], cwd=ROOT, env=lambda_environment(),
                         capture_output=True, text=True, check=True)
    by_module: dict[str, float] = {}
    for line in out.stderr.splitlines():
        parts = line.split(":", 1)[1].split("|") if line.startswith("import time:") else []
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        by_module[parts[2].strip()] = int(parts[0]) / 1e6
    by_package: dict[str, float] = {}
    for module, seconds in by_module.items():
        by_package[module.split(".")[0]] = by_package.get(module.split(".")[0], 0.0) + seconds
    return {"packages": sorted(by_package.items(), key=lambda kv: -kv[1])[:top],
            "modules": sorted(by_module.items(), key=lambda kv: -kv[1])[:top]}


def package_size(timeout: int = 900) -> dict:
    """``chalice package --stage prod`` into a temporary directory; the size of deployment.zip."""
    chalice = Path(sys.executable).with_name("chalice")
    with tempfile.TemporaryDirectory() as out:
        target = Path(out) / "pkg"
        env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
        try:
            result = subprocess.run([str(chalice), "package", "--stage", "prod", str(target)], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            return {"error": repr(e)}
        if result.returncode != 0:
            return {"error": (result.stderr or result.stdout)[-500:]}
        deployment = target / "deployment.zip"
        with zipfile.ZipFile(deployment) as z:
            infos = z.infolist()
            unzipped = sum(i.file_size for i in infos)
            by_top: dict[str, int] = {}
            for i in infos:
                by_top[i.filename.split("/")[0]] = by_top.get(i.filename.split("/")[0], 0) + i.file_size
        return {"zip_bytes": deployment.stat().st_size, "unzipped_bytes": unzipped, "files": len(infos),
                "largest_unzipped": sorted(by_top.items(), key=lambda kv: -kv[1])[:8]}


def run(runs: int = 21, package: bool = True) -> dict:
    _time(APP), _time(BASELINE)  # warm the file cache and the bytecode caches
    app_times, baseline_times = [], []
    for _ in range(runs):
        app_times.append(_time(APP))
        baseline_times.append(_time(BASELINE))
    app_s, baseline_s = statistics.median(app_times), statistics.median(baseline_times)
    return {
        "runs": runs,
        "import_app_s": app_s,
        "boto3_client_s": baseline_s,
        "ratio": app_s / baseline_s,
        "ratio_of_fastest": min(app_times) / min(baseline_times),
        "import_app_runs": app_times,
        "boto3_client_runs": baseline_times,
        "heaviest_imports": heaviest_imports(),
        "package": package_size() if package else {"skipped": True},
    }


def report(r: dict) -> list[str]:
    verdict = "met" if r["ratio"] <= 1.6 else f"missed by {r['ratio'] - 1.6:.2f}"
    lines = [
        f"cold start: import app {r['import_app_s'] * 1000:.0f} ms vs import boto3 + DynamoDB client "
        f"{r['boto3_client_s'] * 1000:.0f} ms (median of {r['runs']}): ratio {r['ratio']:.2f} "
        f"(target <= 1.6: {verdict}); fastest runs' ratio {r['ratio_of_fastest']:.2f}",
        "cold start: import app's own time by package: " + ", ".join(
            f"{name} {seconds * 1000:.0f} ms" for name, seconds in r["heaviest_imports"]["packages"]),
        "cold start: heaviest modules (own time): " + ", ".join(
            f"{name} {seconds * 1000:.0f} ms" for name, seconds in r["heaviest_imports"]["modules"]),
    ]
    p = r["package"]
    if "zip_bytes" in p:
        lines.append(f"package: deployment.zip {p['zip_bytes'] / 1e6:.1f} MB ({p['unzipped_bytes'] / 1e6:.1f} MB "
                     f"unzipped, {p['files']} files); largest: " + ", ".join(
                         f"{k} {v / 1e6:.1f} MB" for k, v in p["largest_unzipped"][:6]))
    else:
        lines.append(f"package: not measured ({p.get('error') or 'skipped'})")
    return lines
