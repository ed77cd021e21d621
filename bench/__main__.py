"""``python -m bench`` (``make bench``): every benchmark in one process, every figure printed, and
the whole result written as JSON (``--json``, default ``out/bench.json``).

    python -m bench                      # the default fleet (20 000 devices): a few minutes
    python -m bench --devices 100000     # the issue's fleet: about ten minutes, a few GB of memory
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import check_in, cold_start, cost, endpoints, fleet, overhead, runtimes

ROOT = Path(__file__).resolve().parent.parent


def _git() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "app.py", "chalicelib"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes to app.py/chalicelib" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=20_000, help="fleet size for sweeps and meter (default 20000)")
    parser.add_argument("--hours", type=int, default=48, help="simulated hours of check-ins (default 48)")
    parser.add_argument("--check-in-devices", type=int, default=12, help="devices in the check-in simulation")
    parser.add_argument("--overhead-calls", type=int, default=500, help="check-ins per timed round (default 500)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds, the median counts (default 7)")
    parser.add_argument("--cold-runs", type=int, default=21, help="fresh interpreters per import timing (default 21)")
    parser.add_argument(
        "--package",
        type=Path,
        help="a package built by `python -m infra.build --out DIR` (default: built afresh into a temporary directory)",
    )
    parser.add_argument("--no-runtimes", action="store_true", help="skip the package under every Lambda Python")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "bench.json", help="where to write every figure")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    print(
        f"# {command.strip()}  ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{platform.machine()}, commit {_git()})",
        flush=True,
    )
    results: dict = {"command": command.strip(), "date": f"{datetime.now(UTC):%Y-%m-%d}", "commit": _git()}
    built = tempfile.TemporaryDirectory(prefix="bench-package-")  # removed at exit, unless --package
    package = args.package or cold_start.build(Path(built.name))
    results["package_dir"] = str(package) if args.package else "built afresh (python -m infra.build)"
    steps = [
        ("check_in", lambda: check_in.run(hours=args.hours, devices=args.check_in_devices), check_in.report),
        ("endpoints", endpoints.run, endpoints.report),
        ("fleet", lambda: fleet.run(args.devices), fleet.report),
        ("overhead", lambda: overhead.run(n=args.overhead_calls, rounds=args.rounds), overhead.report),
        ("cold_start", lambda: cold_start.run(package, runs=args.cold_runs), cold_start.report),
        *(
            []
            if args.no_runtimes
            else [("runtimes", lambda: runtimes.run(package, runs=args.cold_runs), runtimes.report)]
        ),
        (
            "cost",
            lambda: cost.run(
                results["check_in"],
                results["endpoints"],
                results["fleet"],
                results["overhead"],
                json.loads((package / "sam.json").read_text()),
            ),
            cost.report,
        ),
    ]
    for name, run, report in steps:
        t = time.perf_counter()
        results[name] = run()
        print(f"\n## {name} ({time.perf_counter() - t:.0f} s)")
        for line in report(results[name]):
            print(line)
        sys.stdout.flush()

    print("\n## every request and schedule (small world)")
    print("\n".join(endpoints.table(results["endpoints"])))
    print("\n## cost model")
    print("\n".join(cost.table(results["cost"])))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nall figures: {args.json} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
