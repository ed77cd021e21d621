"""``python -m infra.build --out out/prod``: the deployment package and its template.

Runs ``chalice package`` (the functions, schedules and REST API of ``app.py``, and the zip),
finishes the template with ``infra/template.py`` and checks it with cfn-lint. The package is the
same for every stage: the stack's ``Stage`` parameter names what differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHALICE_STAGE = "package"  # .chalice/config.json: the settings every deployment shares


def version() -> str:
    """The commit being packaged; ``+dirty`` when the tree has changes not committed."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def _tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def build(out: Path, commit: str | None = None) -> Path:
    from infra.template import finish

    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    env.pop("AWS_ENDPOINT_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([_tool("chalice"), "package", "--stage", CHALICE_STAGE, tmp], cwd=ROOT, env=env, check=True)
        sam = json.loads((Path(tmp) / "sam.json").read_text())
        shutil.copy(Path(tmp) / "deployment.zip", out / "deployment.zip")
    template = finish(sam, commit or version())
    path = out / "sam.json"
    path.write_text(json.dumps(template, indent=1, sort_keys=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "package")
    args = parser.parse_args()
    path = build(args.out)
    print(f"{path} ({path.stat().st_size:,} bytes) and {args.out / 'deployment.zip'}")


if __name__ == "__main__":
    main()
