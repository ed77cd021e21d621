"""``python -m infra.build --out out/prod``: the deployment package and its template.

Runs ``chalice package`` (the functions, schedules and REST API of ``app.py``, and the zip),
makes the zip Lambda's (only what the functions run, every module precompiled), finishes the
template with ``infra/template.py`` and checks it with cfn-lint. The package is the
same for every stage: the stack's ``Stage`` parameter names what differs.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHALICE_STAGE = "package"  # .chalice/config.json: the settings every deployment shares


def version() -> str:
    """The commit being packaged; ``+dirty`` when the tree has changes not committed."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def tool(name: str) -> str:
    """A command of the project's venv: beside this interpreter, else in .venv."""
    candidate = Path(sys.executable).parent / name
    return str(candidate if candidate.exists() else ROOT / ".venv" / "bin" / name)


def build(out: Path, commit: str | None = None) -> Path:
    from infra.template import finish

    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    env.pop("AWS_ENDPOINT_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        with _chalice_cache_locked():
            subprocess.run([tool("chalice"), "package", "--stage", CHALICE_STAGE, tmp], cwd=ROOT, env=env, check=True)
        sam = json.loads((Path(tmp) / "sam.json").read_text())
        precompiled(Path(tmp) / "deployment.zip", out / "deployment.zip", runtime=_runtime(sam))
    template = finish(sam, commit or version())
    path = out / "sam.json"
    path.write_text(json.dumps(template, indent=1, sort_keys=False) + "\n")
    return path


@contextlib.contextmanager
def _chalice_cache_locked() -> Iterator[None]:
    """One ``chalice package`` at a time in this checkout: it caches its zip in
    ``.chalice/deployments`` and writes it in place, so a second build at once (make test's
    workers, a benchmark beside them) could take the first one's half-written zip."""
    lock = ROOT / ".chalice" / "deployments" / ".lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


def _runtime(sam: dict) -> str:
    (runtime,) = {
        r["Properties"]["Runtime"] for r in sam["Resources"].values() if r.get("Type") == "AWS::Serverless::Function"
    }
    return runtime


# Every entry of the zip gets this time: the same code makes the same zip, so an unchanged package
# is neither uploaded again nor published as a new function version.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def precompiled(source: Path, target: Path, runtime: str) -> None:
    """The zip with every module compiled to bytecode beside it. Lambda's /var/task is read-only:
    without .pyc files every cold start compiles every module it imports. ``unchecked-hash``
    bytecode is used without looking at the source's time (which a zip does not keep)."""
    expected = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != expected:
        raise SystemExit(f"the functions run {runtime} but this is {expected}: bytecode is per version")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(source) as zipped:
            zipped.extractall(root)
        lean(root)
        if not compile_bytecode(root, sys.executable):
            raise SystemExit("some module of the package does not compile")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(path.relative_to(root).as_posix(), ZIP_TIME)
                info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zipped.writestr(info, path.read_bytes())


def compile_bytecode(root: Path, python: str) -> bool:
    """Every module under ``root`` compiled by ``python`` to unchecked-hash bytecode; False if
    one does not compile. The file names recorded are where Lambda puts the code (tracebacks
    name them), and the hash seed is fixed (a set constant's order follows the string hashes):
    same code, same bytes."""
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    command += ["-s", str(root), "-p", "/var/task", str(root)]
    return subprocess.run(command, env={**os.environ, "PYTHONHASHSEED": "0"}, check=False).returncode == 0


# What a wheel ships that no Lambda invocation reads: type stubs and their markers, the installer's
# file lists, scripts (``*.data``), C headers, and botocore's documentation examples.
NOT_RUN = (
    "**/*.pyi",
    "**/py.typed",
    "*.dist-info/RECORD",
    "*.dist-info/INSTALLER",
    "*.data",
    "**/*.h",
    "botocore/data/*/*/examples-1.json",
)


def services() -> set[str]:
    """The AWS services the functions may call: the prefixes of their IAM grants (infra/permissions.py),
    which are also botocore's names for them."""
    from infra.permissions import GRANTS

    return {action.split(":")[0] for grants in GRANTS.values() for actions in grants.values() for action in actions}


def lean(root: Path) -> None:
    """Drop from the unzipped package what Lambda does not run: ``NOT_RUN``, and the API models of
    every service no function is granted (botocore's 28 MB hold some 440 services; boto3's resource
    models likewise). A client of a service left out fails with ``UnknownServiceError``, and so
    would its call without a grant."""
    for pattern in NOT_RUN:
        for path in list(root.glob(pattern)):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    called = services()
    botocore_models, boto3_models = root / "botocore" / "data", root / "boto3" / "data"
    missing = called - {p.name for p in botocore_models.iterdir()}
    if missing:
        raise SystemExit(
            f"botocore has no model of {sorted(missing)}: infra/permissions.py names services by their botocore names"
        )
    for models in (botocore_models, boto3_models):
        for path in models.iterdir():
            if path.is_dir() and path.name not in called:
                shutil.rmtree(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "package")
    args = parser.parse_args()
    path = build(args.out)
    print(f"{path} ({path.stat().st_size:,} bytes) and {args.out / 'deployment.zip'}")


if __name__ == "__main__":
    main()
