"""Handler overhead: check-ins per second through the app against the same single UpdateItem sent
with boto3, on the same in-process moto, in one run; and a profile of where the difference goes.

Three ways to send a check-in, timed in interleaved rounds (the median round counts):

- ``test client``: Chalice's test client (``chalice.test.Client``), as the tests drive the app; it
  also builds the API Gateway event and copies ``os.environ`` per request, which Lambda does not;
- ``handler``: the app called as Lambda calls it, ``app(event, context)``, with the event built once;
- ``boto3``: the UpdateItem the check-in sends (captured from a real one), sent with a boto3 client.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import statistics
import time

from bench.calls import CallLog
from bench.capture import stdout_captured
from bench.world import World

# Where a check-in's time goes, as layers: the cumulative time of the function that enters each one
# (pstats key: file suffix, function name). What is left is Chalice's routing and middleware,
# the logger's decorator and the glue between them.
LAYERS: dict[str, list[tuple[str, str]]] = {
    "moto (stands in for DynamoDB's server)": [("moto/core/botocore_stubber.py", "__call__")],
    "botocore (build, sign, send, parse the request)": [("botocore/client.py", "_make_api_call")],
    "store: the UpdateItem's expression and the item back (PynamoDB)": [("chalicelib/store/devices.py", "check_in")],
    "Ed25519: verify the token, sign lease and token": [
        ("chalicelib/security/signing.py", "sign"),
        ("chalicelib/security/signing.py", "verify"),
    ],
    "body parsing and JSON response (pydantic)": [
        ("chalicelib/api/http.py", "parse_body"),
        ("chalicelib/api/http.py", "json_response"),
    ],
    "metrics: count and EMF flush (powertools)": [
        ("chalicelib/observability.py", "count"),
        ("chalicelib/observability.py", "flush_metrics"),
    ],
}
# A layer's time excludes the layers it calls.
INSIDE = {
    "botocore (build, sign, send, parse the request)": ["moto (stands in for DynamoDB's server)"],
    "store: the UpdateItem's expression and the item back (PynamoDB)": [
        "botocore (build, sign, send, parse the request)"
    ],
}


def _cumulative(stats: pstats.Stats, entries: list[tuple[str, str]]) -> float:
    total = 0.0
    for (filename, _, name), (_, _, _, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        if any(filename.replace("\\", "/").endswith(suffix) and name == function for suffix, function in entries):
            total += cumtime
    return total


def profile(fn, n: int) -> dict:
    """Seconds per layer over ``n`` calls of ``fn`` under cProfile, as shares of the total (the
    profiler slows Python code more than C code: shares, not absolute times)."""
    profiler = cProfile.Profile()
    profiler.enable()
    started = time.perf_counter()
    for _ in range(n):
        fn()
    elapsed = time.perf_counter() - started
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw = {name: _cumulative(stats, entries) for name, entries in LAYERS.items()}
    layers = {name: raw[name] - sum(raw[inner] for inner in INSIDE.get(name, [])) for name in LAYERS}
    layers = {k: v for k, v in layers.items() if v > 0}
    layers["Chalice routing and middleware, logger, the rest"] = max(elapsed - sum(layers.values()), 0.0)
    return {"calls": n, "seconds": elapsed, "shares": {k: v / elapsed for k, v in layers.items()}}


def run(n: int = 500, rounds: int = 7, profile_n: int = 300) -> dict:
    import boto3

    with World() as world, stdout_captured():
        tenant = world.new_tenant("Overhead", capacity=10)
        device = world.activate(tenant)
        with CallLog() as log:
            world.check_in(device)
        (update,) = log.dynamodb()
        assert update.operation == "UpdateItem", log.labels()

        client = boto3.client("dynamodb", region_name="us-east-1")
        path = f"/v1/devices/{device.device_id}/check-ins"
        headers = {"Content-Type": "application/json", **device.auth}
        body = json.dumps(device.check_in_body)
        http = world.api.client.http
        gateway = http._local_gateway
        event = gateway._generate_lambda_event("POST", path, headers, body.encode())
        context = gateway._generate_lambda_context()
        app = world.app

        def via_test_client():
            response = http.post(path, headers=headers, body=body)
            assert response.status_code == 200, response.body

        def via_handler():
            response = app(event, context)
            assert response["statusCode"] == 200, response

        def via_boto3():
            client.update_item(**update.params)

        ways = {"test client": via_test_client, "handler": via_handler, "boto3": via_boto3}
        for fn in ways.values():  # warm: first-call imports, caches, the key ring
            for _ in range(20):
                fn()
        times: dict[str, list[float]] = {k: [] for k in ways}
        for _ in range(rounds):
            for name, fn in ways.items():
                started = time.perf_counter()
                for _ in range(n):
                    fn()
                times[name].append(time.perf_counter() - started)
        profiles = {"handler": profile(via_handler, profile_n), "boto3": profile(via_boto3, profile_n)}

    per_call = {k: statistics.median(v) / n for k, v in times.items()}
    rates = {k: 1 / v for k, v in per_call.items()}
    return {
        "n": n,
        "rounds": rounds,
        "ms_per_check_in": {k: v * 1000 for k, v in per_call.items()},
        "check_ins_per_second": rates,
        "ratio_test_client": rates["test client"] / rates["boto3"],
        "ratio_handler": rates["handler"] / rates["boto3"],
        "profiles": profiles,
    }


def report(r: dict) -> list[str]:
    rates, ms = r["check_ins_per_second"], r["ms_per_check_in"]
    verdict = "met" if r["ratio_test_client"] >= 0.6 else f"missed by {0.6 - r['ratio_test_client']:.2f}"
    lines = [
        f"overhead: check-ins/s: test client {rates['test client']:.0f} ({ms['test client']:.2f} ms), handler "
        f"{rates['handler']:.0f} ({ms['handler']:.2f} ms), boto3 UpdateItem {rates['boto3']:.0f} "
        f"({ms['boto3']:.2f} ms); ratio test client/boto3 {r['ratio_test_client']:.2f} (target >= 0.6: {verdict}), "
        f"handler/boto3 {r['ratio_handler']:.2f}",
    ]
    for name in ("handler", "boto3"):
        shares = r["profiles"][name]["shares"]
        lines.append(
            f"overhead: {name} profile: "
            + ", ".join(
                f"{k} {v:.0%} (~{v * ms[name]:.2f} ms)" for k, v in sorted(shares.items(), key=lambda kv: -kv[1])
            )
        )
    return lines
