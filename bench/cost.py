"""The cost of a device-month, from the figures the other benchmarks measured and AWS's public
us-east-1 list prices (``PRICES``; free tiers ignored). Devices check in at the default interval.

Per check-in (measured): one API Gateway REST request, one Lambda invocation of the measured
duration at 512 MB, the table's write units, the index write units (``bench.check_in``), the bytes
it logs (plus Lambda's START/END/REPORT lines) and the bytes it answers. Per month, besides: the
schedules (their queries and scans), the meter's writes, storage, and a device lifecycle
(activation, confirmation, release) for an assumed share of the fleet.
"""

from __future__ import annotations

import math

PRICES_CHECKED = "2026-11-28"
PRICES = {
    # Amazon DynamoDB on-demand, Standard table class (50 % lower since 2024-11-01).
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "dynamodb_storage_gb_month": 0.25,
    # AWS Lambda, x86, first 6 billion GB-seconds a month.
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,
    # Amazon API Gateway REST API requests, monthly tiers: (requests in the tier, price per request).
    "api_gateway_rest_tiers": ((333e6, 3.50 / 1e6), (667e6, 2.80 / 1e6), (19e9, 2.38 / 1e6), (math.inf, 1.51 / 1e6)),
    "api_gateway_http_tiers": ((300e6, 1.00 / 1e6), (math.inf, 0.90 / 1e6)),  # comparison only: Chalice deploys REST
    # Amazon CloudWatch Logs ingestion (Standard class) and data transfer out to the internet (first 10 TB).
    "cloudwatch_logs_ingest_gb": 0.50,
    "data_transfer_out_gb": 0.09,
}
# The prices above come from https://aws.amazon.com/dynamodb/pricing/on-demand/,
# https://aws.amazon.com/lambda/pricing/, https://aws.amazon.com/api-gateway/pricing/,
# https://aws.amazon.com/cloudwatch/pricing/ and https://aws.amazon.com/ec2/pricing/on-demand/ (data transfer).

HOURS_PER_MONTH = 730
MEMORY_GB = 0.5
FLEETS = (1_000, 100_000, 1_000_000)
ASSUMPTIONS = {
    "lambda_platform_log_bytes": 260,  # START, END and REPORT lines per invocation
    "response_header_bytes": 300,  # API Gateway's headers on top of the body
    "item_storage_overhead_bytes": 100,  # DynamoDB bills 100 bytes per item and per index entry
    "devices_per_license_type": 50,
    "devices_per_tenant": 100,
    "lifecycles_per_device_month": 0.02,  # 2 % of the fleet activates (and is later released) each month
    "schedule_seconds": 0.2,  # per scheduled invocation
    "lambda_vcpu_at_512mb": 512 / 1769,  # Lambda gives a full vCPU at 1 769 MB
    "dynamodb_round_trip_ms": 10,  # for the slow-Lambda duration only
}


def tiered(requests: float, tiers) -> float:
    cost, left = 0.0, requests
    for size, price in tiers:
        taken = min(left, size)
        cost += taken * price
        left -= taken
        if left <= 0:
            break
    return cost


def durations(overhead: dict) -> dict:
    """Seconds per check-in: as measured in-process (moto standing in for DynamoDB), and a slower
    estimate: the Python work (everything but moto) on 512 MB's share of a vCPU, plus a round trip."""
    measured = overhead["ms_per_check_in"]["handler"] / 1000
    moto = overhead["profiles"]["handler"]["shares"].get("moto (stands in for DynamoDB's server)", 0.0) * measured
    slow = (measured - moto) / ASSUMPTIONS["lambda_vcpu_at_512mb"] + ASSUMPTIONS["dynamodb_round_trip_ms"] / 1000
    return {"measured_s": measured, "slow_s": slow}


def lifecycle(endpoints: dict) -> dict:
    """Request units of one device's life besides its check-ins: the license-types step, the
    activation and the confirmation through the app, and the release by a sweep. Transactional
    writes cost 2 units per item; every item here is under 1 KB; eventually consistent reads of
    under 4 KB cost half a unit. Index writes: the new device enters by-tenant, pending-due and
    silent-due (3); confirming removes it from pending-due and rewrites by-tenant and silent-due (3);
    releasing rewrites by-tenant and removes it from silent-due (2)."""
    routes, schedules = endpoints["routes"], endpoints["schedules"]
    listing, activation = routes["POST /v1/activation/license-types"], routes["POST /v1/activations"]
    confirm = routes["POST /v1/devices/{device_id}/confirm"]
    release = schedules["deactivate_silent"]
    wru = (2 * activation["transact_items"] + 3) + (confirm["writes"] + 3) + (2 * release["transact_items"] + 2)
    rru = 0.5 * (listing["reads"] + activation["reads"])
    return {"wru": wru, "rru": rru, "requests": 3}


def monthly(devices: int, check_in: dict, endpoints: dict, fleet: dict, seconds: float) -> dict:
    """Quantities and dollars a month for ``devices`` checking in every ``interval_s``."""
    interval = check_in["interval_s"]
    check_ins = devices * HOURS_PER_MONTH * 3600 / interval
    index_wru = sum(check_in["index_writes_per_check_in"].values())
    wru_per_check_in = check_in["table_wru_per_check_in"] + index_wru
    types = max(1, devices // ASSUMPTIONS["devices_per_license_type"])
    tenants = max(1, devices // ASSUMPTIONS["devices_per_tenant"])
    life = lifecycle(endpoints)
    lifecycles = devices * ASSUMPTIONS["lifecycles_per_device_month"]

    # Schedules: two sweeps every 5 minutes, one query per shard each (half a unit when the page is
    # small), plus the due items; the meter and expire_trials hourly, scanning small tables.
    sweep_runs = 2 * 12 * HOURS_PER_MONTH
    queries = fleet["deactivate_silent_again"]["queries"]
    sweep_rru = sweep_runs * queries * 0.5
    meter_rru = HOURS_PER_MONTH * max(0.5, math.ceil(types * 200 / 4096) * 0.5)
    trials_rru = HOURS_PER_MONTH * max(0.5, math.ceil(tenants * 400 / 4096) * 0.5)
    meter_wru = HOURS_PER_MONTH * types
    schedule_invocations = sweep_runs + 2 * HOURS_PER_MONTH

    wru = check_ins * wru_per_check_in + meter_wru + lifecycles * life["wru"]
    rru = sweep_rru + meter_rru + trials_rru + lifecycles * life["rru"]
    api_requests = check_ins + lifecycles * life["requests"]
    invocations = api_requests + schedule_invocations
    billed = math.ceil(seconds * 1000) / 1000  # Lambda bills each invocation in whole milliseconds
    gb_seconds = (api_requests * billed + schedule_invocations * ASSUMPTIONS["schedule_seconds"]) * MEMORY_GB
    log_gb = invocations * (check_in["log_bytes_per_check_in"] + ASSUMPTIONS["lambda_platform_log_bytes"]) / 1e9
    out_gb = api_requests * (check_in["response_bytes_per_check_in"] + ASSUMPTIONS["response_header_bytes"]) / 1e9
    stored = check_in["stored_bytes"]
    overhead = ASSUMPTIONS["item_storage_overhead_bytes"]
    per_device = (stored["device_item"] + overhead + sum(v + overhead for v in stored["index_entries"].values())
                  + stored["claims"] + 2 * overhead)
    storage_gb = devices * per_device / 1e9

    dollars = {
        "API Gateway (REST)": tiered(api_requests, PRICES["api_gateway_rest_tiers"]),
        "DynamoDB writes": wru * PRICES["dynamodb_write_request_unit"],
        "DynamoDB reads": rru * PRICES["dynamodb_read_request_unit"],
        "DynamoDB storage": storage_gb * PRICES["dynamodb_storage_gb_month"],
        "Lambda requests": invocations * PRICES["lambda_request"],
        "Lambda duration": gb_seconds * PRICES["lambda_gb_second"],
        "CloudWatch Logs": log_gb * PRICES["cloudwatch_logs_ingest_gb"],
        "Data transfer out": out_gb * PRICES["data_transfer_out_gb"],
    }
    total = sum(dollars.values())
    return {
        "devices": devices, "check_ins": check_ins, "check_ins_per_second": check_ins / (HOURS_PER_MONTH * 3600),
        "write_request_units": wru, "read_request_units": rru, "api_requests": api_requests,
        "lambda_invocations": invocations, "lambda_gb_seconds": gb_seconds, "log_gb": log_gb, "out_gb": out_gb,
        "storage_gb": storage_gb, "dollars": dollars, "total": total,
        "per_1000_device_months": total / (devices / 1000),
        "http_api_instead": (total - dollars["API Gateway (REST)"]
                             + tiered(api_requests, PRICES["api_gateway_http_tiers"])),
    }


def run(check_in: dict, endpoints: dict, fleet: dict, overhead: dict) -> dict:
    seconds = durations(overhead)
    models = {}
    for devices in FLEETS:
        measured = monthly(devices, check_in, endpoints, fleet, seconds["measured_s"])
        slow = monthly(devices, check_in, endpoints, fleet, seconds["slow_s"])
        models[devices] = {**measured, "per_1000_device_months_slow_lambda": slow["per_1000_device_months"]}
    return {"durations": seconds, "lifecycle": lifecycle(endpoints), "fleets": models, "prices": PRICES,
            "prices_checked": PRICES_CHECKED, "assumptions": ASSUMPTIONS}


def report(r: dict) -> list[str]:
    d = r["durations"]
    lines = [f"cost: Lambda duration per check-in {d['measured_s'] * 1000:.1f} ms measured "
             f"({d['slow_s'] * 1000:.1f} ms slow estimate); prices as of {r['prices_checked']} (us-east-1 list)"]
    for devices, m in r["fleets"].items():
        top = sorted(m["dollars"].items(), key=lambda kv: -kv[1])[:3]
        lines.append(
            f"cost: {devices:>9,} devices: ${m['total']:,.2f}/month = ${m['per_1000_device_months']:.2f} per 1 000 "
            f"device-months (slow Lambda: ${m['per_1000_device_months_slow_lambda']:.2f}; HTTP API instead of REST: "
            f"${m['http_api_instead'] / (devices / 1000):.2f}); {m['check_ins_per_second']:.1f} check-ins/s, "
            f"{m['write_request_units'] / 1e6:,.1f} M WRU; largest: "
            + ", ".join(f"{k} ${v:,.2f}" for k, v in top))
    return lines


def table(r: dict) -> list[str]:
    """Markdown: one column per fleet size."""
    fleets = r["fleets"]
    head = "| per month | " + " | ".join(f"{d:,} devices" for d in fleets) + " |"
    rows = [head, "| --- |" + " --- |" * len(fleets)]

    def row(label, fn):
        rows.append(f"| {label} | " + " | ".join(fn(m) for m in fleets.values()) + " |")

    row("check-ins (per second)", lambda m: f"{m['check_ins'] / 1e6:,.2f} M ({m['check_ins_per_second']:,.1f}/s)")
    row("API Gateway REST requests", lambda m: f"{m['api_requests'] / 1e6:,.2f} M")
    row("DynamoDB write request units", lambda m: f"{m['write_request_units'] / 1e6:,.2f} M")
    row("DynamoDB read request units", lambda m: f"{m['read_request_units'] / 1e6:,.3f} M")
    row("Lambda invocations / GB-seconds",
        lambda m: f"{m['lambda_invocations'] / 1e6:,.2f} M / {m['lambda_gb_seconds']:,.0f}")
    row("CloudWatch Logs ingested", lambda m: f"{m['log_gb']:,.2f} GB")
    row("data transfer out", lambda m: f"{m['out_gb']:,.2f} GB")
    row("DynamoDB storage", lambda m: f"{m['storage_gb']:,.3f} GB")
    for component in next(iter(fleets.values()))["dollars"]:
        row(f"$ {component}", lambda m, c=component: f"{m['dollars'][c]:,.2f}")
    row("**$ total**", lambda m: f"**{m['total']:,.2f}**")
    row("**$ per 1 000 device-months**", lambda m: f"**{m['per_1000_device_months']:.2f}**")
    row("$ per 1 000 device-months, slow-Lambda duration", lambda m: f"{m['per_1000_device_months_slow_lambda']:.2f}")
    row("$ per 1 000 device-months with an HTTP API", lambda m: f"{m['http_api_instead'] / (m['devices'] / 1000):.2f}")
    return rows
