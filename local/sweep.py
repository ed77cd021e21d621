"""Run scheduled functions once, at a chosen time, against the running local stack's tables:

    python -m local.sweep deactivate_silent --at 2026-12-01T00:00:00Z
    python -m local.sweep all --at 2026-12-29T00:00:00Z        # every one, in schedule order
    make sweep NAME=expire_trials AT=2026-12-29T00:00:00Z

For operators and demos: move a LoadMaster's world forward without waiting for the clock. It
prints each function's report (items due, acted on, skipped by a lost race, and whether its
budget stopped it with work left: ``stopped_early``, the next run goes on) as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from datetime import UTC, datetime

from local.environment import use_local_environment
from local.stack import SCHEDULED, run_scheduled, state_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=[*SCHEDULED, "all"])
    parser.add_argument("--at", help="the event's time, RFC 3339 UTC (default: now)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or 8000),
        help="the port of the local stack to act on (default: $PORT or 8000)",
    )
    args = parser.parse_args(argv)
    at = args.at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        parser.error(f"--at {at!r} is not an RFC 3339 time such as 2026-12-01T00:00:00Z")
    state = state_file(args.port)
    if not state.exists():
        print(f"local.sweep: no local stack is running on port {args.port} (start one with make run)", file=sys.stderr)
        return 1
    names = SCHEDULED if args.name == "all" else (args.name,)
    # The app's logs and metrics go to stderr: stdout carries only the reports (the logger takes
    # its stream when first imported, by configure).
    with contextlib.redirect_stdout(sys.stderr):
        # The service configured for the stack's moto and user pool; the sweeps need no operator key.
        found = json.loads(state.read_text())
        use_local_environment(
            moto_endpoint=found["moto_endpoint"],
            operator_key="",
            cognito_user_pool_id=found.get("COGNITO_USER_POOL_ID", ""),
            cognito_client_id=found.get("COGNITO_CLIENT_ID", ""),
        )
        reports = run_scheduled(names, at)
    print(json.dumps(reports, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
