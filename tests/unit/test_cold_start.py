"""Cold start (issue 14): ``import app`` builds none of the contract's models and leaves the
OpenAPI generator unimported; a model is built when a request first needs it. Checked in a fresh
interpreter, as a Lambda container starts: in this process other tests have built them already."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import app
from pydantic import BaseModel
from chalicelib.api import schemas

models = [v for v in vars(schemas).values()
          if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == schemas.__name__]
print(json.dumps({"models": len(models), "built": sorted(m.__name__ for m in models if m.__pydantic_complete__),
                  "openapi": "chalicelib.api.openapi" in sys.modules}))
"""


def _cold_start() -> dict:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    started = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**keep, "AWS_DEFAULT_REGION": "us-east-1"},
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout)


def test_import_app_builds_no_model_of_the_contract_and_no_openapi_document():
    cold = _cold_start()

    assert cold["models"] > 40  # the probe sees the contract's models
    assert cold["built"] == []
    assert cold["openapi"] is False
