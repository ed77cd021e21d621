"""``python -m infra.lint DIR``: cfn-lint (every rule) and checkov on a package's template and on
its translation to CloudFormation; exit 1 on any finding not accepted below.

checkov lives in a virtual environment of its own (``.venv-checkov``, from
``requirements-checkov.txt``): its dependencies cannot share the project's pins at a current
release. ``make test`` creates it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from infra.build import tool

ROOT = Path(__file__).resolve().parents[1]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

# Findings this template does not follow, each with the reason. docs/DEPLOY.md lists them too.
CFN_LINT_ACCEPTED = {
    "I4010": "asks for Metadata.com.aws.cloudformation.Context on every resource: documentation for AI tools, "
    "which infra/template.py and docs/DEPLOY.md already give",
}
# On the translated template only: SAM reads DeploymentType while it translates, so the
# CloudFormation it writes no longer refers to it (CloudFormation's own transform does the same).
CFN_LINT_ACCEPTED_TRANSLATED = {"W2001": "DeploymentType is read by the SAM translation itself"}
CHECKOV_ACCEPTED = {
    "CKV_AWS_115": "no reserved concurrency: a new account has 10 concurrent executions, all of them unreserved "
    "by rule, so any reservation fails the deploy; the sweeps are safe to overlap (DESIGN.md)",
    "CKV_AWS_116": "no Lambda DeadLetterQueue: the API is invoked synchronously (its caller sees the error), and "
    "each scheduled function has an on-failure destination (EventInvokeConfig to SQS), which "
    "supersedes a DLQ and carries the error with the event",
    "CKV_AWS_117": "not in a VPC: the functions reach only AWS APIs; a VPC would add NAT gateways (cost) and "
    "cold-start time for no isolation gained",
    "CKV_AWS_119": "tables encrypted with the AWS managed key (SSEEnabled), not a customer key: no cross-account "
    "access or key-policy separation is needed, and a CMK adds cost per request",
    "CKV_AWS_120": "no API Gateway cache: every answer is per caller and reflects the current licensing state; a "
    "cached answer could grant an instance that is no longer there",
    "CKV_AWS_149": "the signing-key secret uses the AWS managed key; only the API function's role can read it",
    "CKV_AWS_158": "log groups encrypted at rest by CloudWatch Logs' own keys; the logs hold no secret (README: "
    "logs), and a CMK would add a key policy for every log group",
    "CKV_AWS_173": "environment variables encrypted at rest by Lambda's managed key; they hold no secret (the "
    "operator key's SHA-256 only)",
    "CKV_AWS_27": "the failure queues use SQS-managed encryption (SqsManagedSseEnabled), not a KMS key",
    "CKV_AWS_73": "no X-Ray tracing on the API: the powertools logs and metrics answer what tracing would, "
    "without its cost per request and its cold-start time",
}


def translated(sam_path: Path) -> dict[str, Any]:
    """The package's SAM template as CloudFormation, with a stand-in code location."""
    from infra.deploy import translate

    sam = json.loads(sam_path.read_text())
    for resource in sam["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": "licensing-deploy", "Key": "licensing/code/package.zip"}
    return translate(sam, {"Stage": "prod", "DeploymentType": "Canary10Percent5Minutes"}, "us-east-1")


def cfn_lint(path: Path, accepted: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    return subprocess.run(
        [tool("cfn-lint"), "-c", "I", "--include-experimental", "--ignore-checks", *accepted, "--", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def checkov(paths: list[Path]) -> list[dict[str, Any]]:
    """checkov's failed checks on ``paths``, the accepted ones left out."""
    if not CHECKOV.exists():
        raise FileNotFoundError(f"{CHECKOV} is missing: make .venv-checkov (make test creates it)")
    command = [
        str(CHECKOV),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--quiet",
        "--compact",
        "-o",
        "json",
        "--skip-check",
        ",".join(CHECKOV_ACCEPTED),
    ]
    for path in paths:
        command += ["-f", str(path)]
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"checkov exit {result.returncode}:\n{result.stderr[-4000:]}")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        {"check": c["check_id"], "name": c["check_name"], "resource": c["resource"], "file": c["file_path"]}
        for report in reports
        for c in report.get("results", {}).get("failed_checks", [])
    ]


def main() -> int:
    package = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "out" / "package")
    sam = package / "sam.json"
    with tempfile.TemporaryDirectory() as tmp:
        cfn = Path(tmp) / "cloudformation.json"
        cfn.write_text(json.dumps(translated(sam)))
        failures = 0
        for path, accepted in ((sam, CFN_LINT_ACCEPTED), (cfn, {**CFN_LINT_ACCEPTED, **CFN_LINT_ACCEPTED_TRANSLATED})):
            result = cfn_lint(path, accepted)
            print(f"cfn-lint {path.name}: {'clean' if result.returncode == 0 else result.stdout}")
            failures += result.returncode != 0
        found = checkov([sam, cfn])
        for finding in found:
            print(f"checkov {finding['check']} {finding['resource']} ({finding['file']}): {finding['name']}")
        print(
            f"checkov: {'clean' if not found else f'{len(found)} findings'} "
            f"({len(CHECKOV_ACCEPTED)} checks accepted, see infra/lint.py)"
        )
    return 1 if failures or found else 0


if __name__ == "__main__":
    sys.exit(main())
