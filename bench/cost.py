"""The cost of a device-month, from what the deployment template deploys (``deployment``: which
front door serves the LoadMaster's routes, the functions' memory, architecture, tracing and logging,
the access logs' format, the schedules, alarms, secrets and backups), the figures the other
benchmarks measured (calls, write units, log and response bytes, durations) and AWS's public
us-east-1 list prices (``PRICES``; free tiers ignored). Devices check in at the default interval.

Per check-in: one request through its front door, one Lambda invocation of the measured duration,
the table's and indexes' write units (``bench.check_in``), the bytes it logs, the access log line,
the platform's lines, the bytes it answers. Per month, besides: the schedules, the meter's writes,
storage and backups, a device lifecycle (activation, confirmation, release) for an assumed share of
the fleet, secrets, custom metrics, alarms and traces. And the physical floor: one write unit and
one Lambda request per check-in, nothing else.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
from pathlib import Path
from typing import Any

PRICES_CHECKED = "2026-11-30"
PRICES = {
    # Amazon DynamoDB on-demand, Standard table class (50 % lower since 2024-11-01); continuous
    # backups (point-in-time recovery) per GB-month of table.
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "dynamodb_storage_gb_month": 0.25,
    "dynamodb_pitr_gb_month": 0.20,
    # AWS Lambda, first 6 billion GB-seconds a month, per architecture.
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    # Amazon API Gateway requests, monthly tiers: (requests in the tier, price per request).
    "api_gateway_tiers": {
        "rest": ((333e6, 3.50 / 1e6), (667e6, 2.80 / 1e6), (19e9, 2.38 / 1e6), (math.inf, 1.51 / 1e6)),
        "http": ((300e6, 1.00 / 1e6), (math.inf, 0.90 / 1e6)),
        # A Lambda function URL: no charge of its own (its answer's bytes are data transfer out).
        "url": ((math.inf, 0.0),),
    },
    # Amazon CloudWatch: Logs ingestion per log class, archive storage (compressed), custom
    # metrics (first 10 000), standard-resolution alarms.
    "cloudwatch_logs_ingest_gb": {"STANDARD": 0.50, "INFREQUENT_ACCESS": 0.25},
    "cloudwatch_logs_archive_gb_month": 0.03,
    "cloudwatch_metric_month": 0.30,
    "cloudwatch_alarm_month": 0.10,
    # Amazon EventBridge custom events; AWS Secrets Manager; AWS X-Ray traces recorded.
    "eventbridge_event": 1.00 / 1e6,
    "secret_month": 0.40,
    "secrets_manager_call": 0.05 / 10_000,
    "xray_trace": 5.00 / 1e6,
    # Data transfer out to the internet (first 10 TB).
    "data_transfer_out_gb": 0.09,
}
# The prices above come from https://aws.amazon.com/dynamodb/pricing/on-demand/,
# https://aws.amazon.com/lambda/pricing/, https://aws.amazon.com/api-gateway/pricing/,
# https://aws.amazon.com/cloudwatch/pricing/, https://aws.amazon.com/eventbridge/pricing/,
# https://aws.amazon.com/secrets-manager/pricing/, https://aws.amazon.com/xray/pricing/ and
# https://aws.amazon.com/ec2/pricing/on-demand/ (data transfer).

DOORS = {"rest": "API Gateway (REST API)", "http": "API Gateway (HTTP API)", "url": "Lambda function URL"}
HOURS_PER_MONTH = 730
MONTH_S = HOURS_PER_MONTH * 3600
FLEETS = (1_000, 100_000, 1_000_000)
CHECK_IN = "POST /v1/devices/{device_id}/check-ins"
LIFECYCLE = ("POST /v1/activation/license-types", "POST /v1/activations", "POST /v1/devices/{device_id}/confirm")
ASSUMPTIONS = {
    # Lambda's START, END and REPORT lines per invocation: as text, as JSON (LogFormat JSON); none
    # when LoggingConfig.SystemLogLevel is WARN or above.
    "lambda_platform_log_bytes": {"Text": 260, "JSON": 650},
    "response_header_bytes": 300,  # API Gateway's headers on top of the body
    "item_storage_overhead_bytes": 100,  # DynamoDB bills 100 bytes per item and per index entry
    "devices_per_license_type": 50,
    "devices_per_tenant": 100,
    "lifecycles_per_device_month": 0.02,  # 2 % of the fleet activates (and is later released) each month
    "schedule_seconds": 0.2,  # per scheduled invocation
    "lambda_vcpu_per_mb": 1 / 1769,  # Lambda gives a full vCPU at 1 769 MB
    "dynamodb_round_trip_ms": 10,  # for the slow-Lambda duration only
    "secret_reads_per_container_hour": 12,  # a key ring cached for 5 minutes
    "log_archive_compression": 0.15,  # CloudWatch bills archived logs compressed
    "log_retention_days": 30,  # when the template's retention is a parameter
    "xray_reservoir_per_s": 1,
    "xray_rate": 0.05,  # X-Ray's default sampling rule
    "access_log_value_bytes": 8,  # a $context value this table does not know
}
ACCESS_LOG_SAMPLES = {
    "requestId": 36,
    "extendedRequestId": 16,
    "requestTimeEpoch": 13,
    "requestTime": 26,
    "routeKey": 40,
    "resourcePath": 35,
    "path": 50,
    "httpMethod": 4,
    "status": 3,
    "responseLatency": 3,
    "integrationLatency": 2,
    "identity.sourceIp": 14,
    "responseLength": 4,
    "protocol": 8,
    "error.responseType": 1,
    "error.message": 1,
    "integrationErrorMessage": 1,
}


# --- the code ----------------------------------------------------------------------------------

CHALICELIB = Path(__file__).resolve().parent.parent / "chalicelib"


def custom_metrics(package: Path = CHALICELIB) -> dict[str, int]:
    """The custom metrics the code can publish, read from its ``count(...)`` calls: each name (with
    the ``service`` dimension) times the values its other dimensions can take, as CloudWatch bills
    them (one metric per name and set of dimension values). A name made by a report
    (``count(f"{self.sweep}.{metric}")`` in ``SweepReport.publish``) is every report's name made
    (``SweepReport("deactivate_silent")``) times the keys its class's ``metrics()`` returns; a
    dimension that is a parameter takes the literals its callers pass (``throttle("register",
    …)``), one made from an error's ``code`` any ``Code``. Any other shape is refused rather than
    guessed."""
    from chalicelib.domain.errors import Code

    trees = [ast.parse(f.read_text()) for f in sorted(package.rglob("*.py"))]
    nodes = [n for tree in trees for n in ast.walk(tree)]
    classes = {n.name: n for n in nodes if isinstance(n, ast.ClassDef)}

    def literals(callee: str, position: int) -> set[str]:
        return {
            c.args[position].value
            for c in nodes
            if isinstance(c, ast.Call)
            and isinstance(c.func, ast.Name)
            and c.func.id == callee
            and len(c.args) > position
            and isinstance(c.args[position], ast.Constant)
        }

    def keys(name: str) -> set[str]:
        """The keys of the class's ``metrics()`` dict, its base's for ``**super().metrics()``."""
        (method,) = [m for m in classes[name].body if isinstance(m, ast.FunctionDef) and m.name == "metrics"]
        (returned,) = [n.value for n in ast.walk(method) if isinstance(n, ast.Return)]
        base = classes[name].bases[0].id if classes[name].bases else None
        return {
            k.value if k is not None else key
            for k in returned.keys
            for key in ([None] if k is not None else keys(base))
        }

    def reports(name: str) -> set[str]:
        """``name.key`` for each report of the class or its subclasses."""
        kinds = [name] + [c for c, node in classes.items() if any(getattr(b, "id", None) == name for b in node.bases)]
        return {f"{report}.{key}" for kind in kinds for report in literals(kind, 0) for key in keys(kind)}

    metrics: dict[str, int] = {}
    for tree in trees:
        for scope in ast.walk(tree):
            if not isinstance(scope, ast.ClassDef | ast.Module):
                continue
            for fn in [n for n in scope.body if isinstance(n, ast.FunctionDef)]:
                for call in ast.walk(fn):
                    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "count"):
                        continue
                    name = call.args[0]
                    if isinstance(name, ast.Constant):
                        names = {name.value}
                    elif isinstance(name, ast.JoinedStr) and isinstance(scope, ast.ClassDef):
                        names = reports(scope.name)
                    else:
                        raise ValueError(f"cannot tell the metric named by {ast.unparse(name)} in {fn.name}")
                    sets = 1
                    for dimension in call.keywords:
                        params = [a.arg for a in fn.args.args]
                        if isinstance(dimension.value, ast.Name) and dimension.value.id in params:
                            sets *= len(literals(fn.name, params.index(dimension.value.id)))
                        elif any(isinstance(n, ast.Attribute) and n.attr == "code" for n in ast.walk(dimension.value)):
                            sets *= len(Code)
                        else:
                            raise ValueError(f"cannot tell the values of {dimension.arg} in {fn.name}")
                    metrics.update(dict.fromkeys(names, sets))
    return metrics


# --- the template ------------------------------------------------------------------------------


def _value(node: Any, default: Any) -> Any:
    """A property's literal value; ``default`` for an intrinsic function (a parameter's choice)."""
    intrinsic = (
        isinstance(node, dict) and len(node) == 1 and (next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::"))
    )
    return default if intrinsic else node


def _matches(route_key: str, route: str) -> bool:
    """Whether an HTTP API route key (``ANY /v1/x/{id}``, ``POST /{proxy+}``) takes ``route``."""
    if route_key == "$default" or " " not in route_key:
        return False
    method, path = route_key.split(" ", 1)
    want_method, want_path = route.split(" ", 1)
    if method not in ("ANY", want_method):
        return False
    pattern = "".join(
        "/[^/]+" if re.fullmatch(r"\{[^}+]+\}", s) else "/.+" if s.endswith("+}") else "/" + re.escape(s)
        for s in path.strip("/").split("/")
    )
    return (
        re.fullmatch(pattern, "/" + "/".join("x" if s.startswith("{") else s for s in want_path.strip("/").split("/")))
        is not None
    )


def _access_log(stage_or_api: dict, resources: dict) -> tuple[int, str]:
    """Bytes of one access log line (the format with typical values; 0 without access logs) and
    the log class of the group it goes to."""
    settings = stage_or_api.get("AccessLogSetting") or stage_or_api.get("AccessLogSettings") or {}
    fmt = settings.get("Format", "")
    size = len(
        re.sub(
            r"\$context\.([A-Za-z.]+)",
            lambda m: "x" * ACCESS_LOG_SAMPLES.get(m.group(1), ASSUMPTIONS["access_log_value_bytes"]),
            fmt,
        )
    )
    return size, _log_class(resources, settings.get("DestinationArn"))


def _log_class(resources: dict, ref: Any) -> str:
    """The class of the log group ``ref`` names (``Ref`` or ``Fn::GetAtt``); STANDARD, the
    default, for one the template does not make."""
    lid = ref.get("Ref") or ref.get("Fn::GetAtt", [None])[0] if isinstance(ref, dict) else None
    group = resources.get(lid, {})
    if group.get("Type") != "AWS::Logs::LogGroup":
        return "STANDARD"
    return _value(group["Properties"].get("LogGroupClass", "STANDARD"), "STANDARD")


def _function(props: dict, globals_: dict, resources: dict) -> dict:
    def prop(name, default):
        return _value(props.get(name, globals_.get(name, default)), default)

    logging = prop("LoggingConfig", {})
    fmt = _value(logging.get("LogFormat", "Text"), "Text")
    quiet = _value(logging.get("SystemLogLevel", "INFO"), "INFO") in ("WARN", "ERROR", "FATAL") and fmt == "JSON"
    schedules = [e["Properties"]["Schedule"] for e in props.get("Events", {}).values() if e["Type"] == "Schedule"]
    return {
        "memory_mb": int(prop("MemorySize", 128)),
        "architecture": prop("Architectures", ["x86_64"])[0],
        "tracing": prop("Tracing", "PassThrough"),
        "runtime": prop("Runtime", None),
        "platform_log_bytes": 0 if quiet else ASSUMPTIONS["lambda_platform_log_bytes"][fmt],
        "log_class": _log_class(resources, logging.get("LogGroup")),
        "every_s": _rate_s(schedules[0]) if schedules else None,
    }


def _rate_s(expression: str) -> float:
    """Seconds between runs of ``rate(…)`` or ``cron(…)`` (a cron fixed to minutes: hourly)."""
    match = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if match:
        return int(match.group(1)) * {"minute": 60, "hour": 3600, "day": 86400}[match.group(2)]
    minutes, hours = expression.removeprefix("cron(").split()[:2]
    return 86400 if hours not in ("*", "?") else 3600 if minutes.isdigit() else 60


def _parameter_values(template: dict, parameters: dict[str, str] | None) -> dict[str, Any]:
    """Each parameter's value: the one given, else its default (None without one)."""
    declared = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    unknown = set(parameters or {}) - set(declared)
    if unknown:
        raise ValueError(f"the template has no parameter {', '.join(sorted(unknown))}")
    values = {**declared, **(parameters or {})}
    return {name: None if value is None else str(value) for name, value in values.items()}


def _holds(expression: Any, values: dict[str, Any], conditions: dict[str, Any]) -> bool:
    """A condition of the template, as CloudFormation evaluates it for ``values``."""
    ((function, args),) = expression.items()
    if function == "Condition":
        return _holds(conditions[args], values, conditions)
    if function == "Fn::Equals":
        left, right = (values.get(a["Ref"]) if isinstance(a, dict) and set(a) == {"Ref"} else a for a in args)
        return left == right
    if function == "Fn::Not":
        return not _holds(args[0], values, conditions)
    if function in ("Fn::And", "Fn::Or"):
        found = (_holds(a, values, conditions) for a in args)
        return all(found) if function == "Fn::And" else any(found)
    raise ValueError(f"the cost model cannot evaluate {function}")


def deployment(template: dict, parameters: dict[str, str] | None = None) -> dict:
    """What the bill depends on in a deployment template (``sam.json`` of ``python -m infra.build``)
    deployed with ``parameters`` (the others at their defaults): a resource whose condition does
    not hold is not deployed."""
    values, conditions = _parameter_values(template, parameters), template.get("Conditions", {})
    resources = {
        lid: r
        for lid, r in template["Resources"].items()
        if "Condition" not in r or _holds({"Condition": r["Condition"]}, values, conditions)
    }
    globals_ = template.get("Globals", {}).get("Function", {})
    functions = {
        lid: _function(r["Properties"], globals_, resources)
        for lid, r in resources.items()
        if r["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    }
    (api_function,) = [lid for lid, f in functions.items() if f["every_s"] is None]
    http_apis = {
        lid
        for lid, r in resources.items()
        if r["Type"] == "AWS::ApiGatewayV2::Api" and r["Properties"].get("ProtocolType") == "HTTP"
    }
    http_routes = [
        r["Properties"]["RouteKey"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route" and r["Properties"]["ApiId"].get("Ref") in http_apis
    ]
    http_routes += [
        f"{e['Properties']['Method'].upper()} {e['Properties']['Path']}"
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::Function"
        for e in r["Properties"].get("Events", {}).values()
        if e["Type"] == "HttpApi"
    ]
    rest_paths = {
        path: {m.upper() for m in methods}
        for r in resources.values()
        if r["Type"] == "AWS::Serverless::Api"
        for path, methods in r["Properties"].get("DefinitionBody", {}).get("paths", {}).items()
    }

    # A function URL on the API function (or an alias of it) serves the LoadMaster's routes, the
    # check-in and the lifecycle's (chalicelib/api/function_url.py), whatever the HTTP API routes.
    targets = [r["Properties"]["TargetFunctionArn"] for r in resources.values() if r["Type"] == "AWS::Lambda::Url"]
    function_url = any(isinstance(t, dict) and str(t.get("Ref", "")).startswith(api_function) for t in targets)

    def front_door(route: str) -> str | None:
        if function_url:
            return "url"
        if any(_matches(key, route) for key in http_routes):
            return "http"
        method, path = route.split(" ", 1)
        return (
            "rest"
            if method in rest_paths.get(path, ()) or "X-AMAZON-APIGATEWAY-ANY-METHOD" in rest_paths.get(path, ())
            else None
        )

    # The access log line of each front door deployed (its stage's format) and its group's class.
    access_log = {
        door: max(_access_log(r["Properties"], resources) for r in resources.values() if r["Type"] == kind)
        for door, kind in (("rest", "AWS::Serverless::Api"), ("http", "AWS::ApiGatewayV2::Stage"))
        if any(r["Type"] == kind for r in resources.values())
    }
    retention = [
        _value(r["Properties"].get("RetentionInDays"), ASSUMPTIONS["log_retention_days"])
        for r in resources.values()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]
    tables = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    return {
        "front_doors": {route: front_door(route) for route in (CHECK_IN, *LIFECYCLE)},
        "api_function": {"logical_id": api_function, **functions[api_function]},
        "schedules": {lid: f for lid, f in functions.items() if f["every_s"] is not None},
        "access_log_bytes": {door: size for door, (size, _) in access_log.items()},
        "access_log_class": {door: log_class for door, (_, log_class) in access_log.items()},
        "log_retention_days": max(retention or [ASSUMPTIONS["log_retention_days"]]),
        "alarms": sum(1 for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"),
        "secrets": sum(1 for r in resources.values() if r["Type"] == "AWS::SecretsManager::Secret"),
        "pitr": any(
            _value(t.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"), False)
            for t in tables
        ),
    }


# --- the model ---------------------------------------------------------------------------------


def tiered(requests: float, tiers) -> float:
    cost, left = 0.0, requests
    for size, price in tiers:
        taken = min(left, size)
        cost += taken * price
        left -= taken
        if left <= 0:
            break
    return cost


def durations(overhead: dict, memory_mb: int) -> dict:
    """Seconds per check-in: as measured in-process (moto standing in for DynamoDB), and a slower
    estimate: the Python work (everything but moto) on ``memory_mb``'s share of a vCPU, plus a round trip."""
    measured = overhead["ms_per_check_in"]["handler"] / 1000
    moto = overhead["profiles"]["handler"]["shares"].get("moto (stands in for DynamoDB's server)", 0.0) * measured
    vcpu = min(1.0, memory_mb * ASSUMPTIONS["lambda_vcpu_per_mb"])
    slow = (measured - moto) / vcpu + ASSUMPTIONS["dynamodb_round_trip_ms"] / 1000
    return {"measured_s": measured, "slow_s": slow}


def lifecycle(endpoints: dict) -> dict:
    """Request units of one device's life besides its check-ins: the license-types step, the
    activation and the confirmation through the app, and the release by a sweep. Transactional
    writes cost 2 units per item; every item here is under 1 KB; eventually consistent reads of
    under 4 KB cost half a unit. Index writes: the new device enters by-tenant, pending-due and
    silent-due (3); confirming removes it from pending-due and rewrites by-tenant and silent-due (3);
    releasing rewrites by-tenant and removes it from silent-due (2). Events: the EventBridge
    notifications the requests published, and the release's."""
    routes, schedules = endpoints["routes"], endpoints["schedules"]
    listing, activation = routes["POST /v1/activation/license-types"], routes["POST /v1/activations"]
    confirm = routes[LIFECYCLE[2]]
    release = schedules["deactivate_silent"]
    wru = (2 * activation["transact_items"] + 3) + (confirm["writes"] + 3) + (2 * release["transact_items"] + 2)
    rru = 0.5 * (listing["reads"] + activation["reads"])
    published = [c for r in (listing, activation, confirm) for c in r.get("other_aws_calls", [])]
    events = 1 + published.count("events:PutEvents")
    return {"wru": wru, "rru": rru, "requests": len(LIFECYCLE), "events": events}


def monthly(
    devices: int, check_in: dict, endpoints: dict, fleet: dict, seconds: float, deployed: dict, front_door: str
) -> dict:
    """Quantities and dollars a month for ``devices`` checking in every ``interval_s``, the
    LoadMaster's routes served through ``front_door`` (``rest`` or ``http``)."""
    fn = deployed["api_function"]
    memory_gb, gb_s_price = fn["memory_mb"] / 1024, PRICES["lambda_gb_second"][fn["architecture"]]
    check_ins = devices * MONTH_S / check_in["interval_s"]
    wru_per_check_in = check_in["table_wru_per_check_in"] + sum(check_in["index_writes_per_check_in"].values())
    types = max(1, devices // ASSUMPTIONS["devices_per_license_type"])
    tenants = max(1, devices // ASSUMPTIONS["devices_per_tenant"])
    life = lifecycle(endpoints)
    lifecycles = devices * ASSUMPTIONS["lifecycles_per_device_month"]

    # Schedules, as often as the template runs them: a sweep is one query per shard (half a unit
    # when the page is small) plus the due items; the meter and expire_trials scan small tables.
    runs = {lid: MONTH_S / f["every_s"] for lid, f in deployed["schedules"].items()}
    sweeps = sum(n for lid, n in runs.items() if lid in ("DeactivateSilent", "BlockUnconfirmed"))
    sweep_rru = sweeps * fleet["deactivate_silent_again"]["queries"] * 0.5
    meter_rru = runs.get("MeterUsage", 0) * max(0.5, math.ceil(types * 200 / 4096) * 0.5)
    trials_rru = runs.get("ExpireTrials", 0) * max(0.5, math.ceil(tenants * 400 / 4096) * 0.5)
    meter_wru = HOURS_PER_MONTH * types  # one usage item per license type and hour however often it runs
    schedule_invocations = sum(runs.values())
    schedule_gb_s = sum(
        n * ASSUMPTIONS["schedule_seconds"] * deployed["schedules"][lid]["memory_mb"] / 1024 for lid, n in runs.items()
    )
    schedule_gb_s_dollars = sum(
        n
        * ASSUMPTIONS["schedule_seconds"]
        * deployed["schedules"][lid]["memory_mb"]
        / 1024
        * PRICES["lambda_gb_second"][deployed["schedules"][lid]["architecture"]]
        for lid, n in runs.items()
    )

    wru = check_ins * wru_per_check_in + meter_wru + lifecycles * life["wru"]
    rru = sweep_rru + meter_rru + trials_rru + lifecycles * life["rru"]
    api_requests = check_ins + lifecycles * life["requests"]
    invocations = api_requests + schedule_invocations
    billed = math.ceil(seconds * 1000) / 1000  # Lambda bills each invocation in whole milliseconds
    gb_seconds = api_requests * billed * memory_gb + schedule_gb_s
    app_log_bytes = api_requests * check_in["log_bytes_per_check_in"]
    platform_log_bytes = api_requests * fn["platform_log_bytes"] + schedule_invocations * max(
        [f["platform_log_bytes"] for f in deployed["schedules"].values()] or [0]
    )
    # A front door the template does not deploy is priced with the access log line of the one it does.
    # A front door the template does not deploy is priced with the access log line of the one it
    # does; a function URL has no access log.
    deployed_door = max(deployed["access_log_bytes"], key=deployed["access_log_bytes"].get, default=None)
    access_door = front_door if front_door in deployed["access_log_bytes"] else deployed_door
    access_line = 0 if front_door == "url" or access_door is None else deployed["access_log_bytes"][access_door]
    access_class = deployed["access_log_class"].get(access_door, "STANDARD")
    access_log_bytes = api_requests * access_line
    log_gb = (app_log_bytes + platform_log_bytes + access_log_bytes) / 1e9
    ingest = PRICES["cloudwatch_logs_ingest_gb"]
    log_ingest_dollars = (
        (app_log_bytes + platform_log_bytes) * ingest[fn["log_class"]] + access_log_bytes * ingest[access_class]
    ) / 1e9
    archived_gb = log_gb * ASSUMPTIONS["log_archive_compression"] * min(1.0, deployed["log_retention_days"] / 30)
    out_gb = api_requests * (check_in["response_bytes_per_check_in"] + ASSUMPTIONS["response_header_bytes"]) / 1e9
    stored = check_in["stored_bytes"]
    overhead = ASSUMPTIONS["item_storage_overhead_bytes"]
    per_device = (
        stored["device_item"]
        + overhead
        + sum(v + overhead for v in stored["index_entries"].values())
        + stored["claims"]
        + 2 * overhead
    )
    storage_gb = devices * per_device / 1e9
    concurrency = math.ceil(api_requests / MONTH_S * billed) + len(deployed["schedules"])
    secret_calls = concurrency * deployed["secrets"] * ASSUMPTIONS["secret_reads_per_container_hour"] * HOURS_PER_MONTH
    traced = 0.0
    if fn["tracing"] == "Active":
        reservoir = ASSUMPTIONS["xray_reservoir_per_s"] * MONTH_S
        traced = min(api_requests, reservoir) + ASSUMPTIONS["xray_rate"] * max(0.0, api_requests - reservoir)

    dollars = {
        DOORS[front_door]: tiered(api_requests, PRICES["api_gateway_tiers"][front_door]),
        "DynamoDB writes": wru * PRICES["dynamodb_write_request_unit"],
        "DynamoDB reads": rru * PRICES["dynamodb_read_request_unit"],
        "DynamoDB storage and backups": storage_gb
        * (PRICES["dynamodb_storage_gb_month"] + PRICES["dynamodb_pitr_gb_month"] * deployed["pitr"]),
        "Lambda requests": invocations * PRICES["lambda_request"],
        f"Lambda duration ({fn['architecture']})": (gb_seconds - schedule_gb_s) * gb_s_price + schedule_gb_s_dollars,
        "CloudWatch Logs": log_ingest_dollars + archived_gb * PRICES["cloudwatch_logs_archive_gb_month"],
        "CloudWatch metrics and alarms": deployed["metric_months"] * PRICES["cloudwatch_metric_month"]
        + deployed["alarms"] * PRICES["cloudwatch_alarm_month"],
        "EventBridge": lifecycles * life["events"] * PRICES["eventbridge_event"],
        "Secrets Manager": deployed["secrets"] * PRICES["secret_month"] + secret_calls * PRICES["secrets_manager_call"],
        "X-Ray": traced * PRICES["xray_trace"],
        "Data transfer out": out_gb * PRICES["data_transfer_out_gb"],
    }
    total = sum(dollars.values())
    floor = check_ins * (PRICES["dynamodb_write_request_unit"] + PRICES["lambda_request"])
    # What no setting of this front door removes: the floor, the door's price, the answer's bytes
    # and the line that carries the check-in's metric (its EMF line).
    bound = (
        floor
        + tiered(check_ins, PRICES["api_gateway_tiers"][front_door])
        + check_ins
        * (check_in["response_bytes_per_check_in"] + ASSUMPTIONS["response_header_bytes"])
        / 1e9
        * PRICES["data_transfer_out_gb"]
        + check_ins * check_in["log_bytes_per_check_in"] / 1e9 * ingest[fn["log_class"]]
    )
    return {
        "devices": devices,
        "front_door": front_door,
        "check_ins": check_ins,
        "check_ins_per_second": check_ins / MONTH_S,
        "write_request_units": wru,
        "read_request_units": rru,
        "api_requests": api_requests,
        "lambda_invocations": invocations,
        "lambda_gb_seconds": gb_seconds,
        "log_gb": log_gb,
        "log_bytes_per_check_in": {
            "app": check_in["log_bytes_per_check_in"],
            "platform": fn["platform_log_bytes"],
            "access": access_line,
        },
        "access_log_class": access_class,
        "out_gb": out_gb,
        "storage_gb": storage_gb,
        "secret_calls": secret_calls,
        "traces": traced,
        "dollars": dollars,
        "total": total,
        "per_1000_device_months": total / (devices / 1000),
        "floor": floor,
        "floor_per_1000_device_months": floor / (devices / 1000),
        "ratio_to_floor": total / floor,
        "bound_per_1000_device_months": bound / (devices / 1000),
    }


def metric_months(metrics: dict[str, int], schedules: dict) -> float:
    """Custom metrics billed a month: CloudWatch prorates a metric by the hours it is published in.
    A report's (``deactivate_silent.Due``) is published by every run of its schedule, so it is
    billed the share of hours a run falls in (none when the template schedules no such function);
    any other is counted whole (a bound: a refusal code seen once a month costs 1/730 of it)."""

    def share(name: str) -> float:
        if "." not in name:
            return 1.0
        every_s = schedules.get(name.split(".")[0].title().replace("_", ""), {}).get("every_s")
        return 0.0 if every_s is None else min(1.0, 3600 / every_s)

    return sum(sets * share(name) for name, sets in metrics.items())


def on(deployed: dict, architecture: str) -> dict:
    """``deployed`` with every function on ``architecture``."""
    return {
        **deployed,
        "api_function": {**deployed["api_function"], "architecture": architecture},
        "schedules": {lid: {**f, "architecture": architecture} for lid, f in deployed["schedules"].items()},
    }


def run(
    check_in: dict,
    endpoints: dict,
    fleet: dict,
    overhead: dict,
    template: dict,
    parameters: dict[str, str] | None = None,
) -> dict:
    """Every fleet size, through the front door the template deployed with ``parameters`` gives the
    check-in, and through each front door the model knows (REST, HTTP API, function URL) for
    comparison."""
    deployed = deployment(template, parameters)
    metrics = custom_metrics()
    deployed = {
        **deployed,
        "custom_metrics": sum(metrics.values()),
        "metric_months": metric_months(metrics, deployed["schedules"]),
    }
    door = deployed["front_doors"][CHECK_IN]
    if door is None:
        raise ValueError(f"the template serves no {CHECK_IN}")
    seconds = durations(overhead, deployed["api_function"]["memory_mb"])
    models = {}
    for devices in FLEETS:
        measured = monthly(devices, check_in, endpoints, fleet, seconds["measured_s"], deployed, door)
        slow = monthly(devices, check_in, endpoints, fleet, seconds["slow_s"], deployed, door)
        doors = {
            d: monthly(devices, check_in, endpoints, fleet, seconds["measured_s"], deployed, d)[
                "per_1000_device_months"
            ]
            for d in PRICES["api_gateway_tiers"]
        }
        machines = {
            a: monthly(devices, check_in, endpoints, fleet, seconds["measured_s"], on(deployed, a), door)[
                "per_1000_device_months"
            ]
            for a in PRICES["lambda_gb_second"]
        }
        models[devices] = {
            **measured,
            "per_1000_device_months_slow_lambda": slow["per_1000_device_months"],
            "per_1000_device_months_by_front_door": doors,
            "per_1000_device_months_by_architecture": machines,
        }
    return {
        "deployed": deployed,
        "durations": seconds,
        "lifecycle": lifecycle(endpoints),
        "fleets": models,
        "prices": PRICES,
        "prices_checked": PRICES_CHECKED,
        "assumptions": ASSUMPTIONS,
    }


def report(r: dict) -> list[str]:
    d, fn = r["durations"], r["deployed"]["api_function"]
    lines = [
        f"cost: the template serves check-ins through the {DOORS[r['deployed']['front_doors'][CHECK_IN]]}, "
        f"{fn['logical_id']} {fn['memory_mb']} MB {fn['architecture']} {fn['runtime']}, tracing {fn['tracing']}; "
        f"Lambda duration per check-in {d['measured_s'] * 1000:.1f} ms measured ({d['slow_s'] * 1000:.1f} ms slow "
        f"estimate); prices as of {r['prices_checked']} (us-east-1 list)"
    ]
    for devices, m in r["fleets"].items():
        top = sorted(m["dollars"].items(), key=lambda kv: -kv[1])[:3]
        doors = ", ".join(f"{DOORS[k]} ${v:.2f}" for k, v in m["per_1000_device_months_by_front_door"].items())
        doors += "; by architecture: " + ", ".join(
            f"{k} ${v:.3f}" for k, v in m["per_1000_device_months_by_architecture"].items()
        )
        verdict = "met" if m["per_1000_device_months"] <= 1.50 else "missed"
        lines.append(
            f"cost: {devices:>9,} devices: ${m['total']:,.2f}/month = ${m['per_1000_device_months']:.2f} per 1 000 "
            f"device-months (target <= $1.50: {verdict}; floor ${m['floor_per_1000_device_months']:.2f}, "
            f"{m['ratio_to_floor']:.2f} x; bound through this door ${m['bound_per_1000_device_months']:.2f}; "
            f"{r['deployed']['custom_metrics']} custom metrics, {r['deployed']['metric_months']:.1f} billed; "
            f"slow Lambda ${m['per_1000_device_months_slow_lambda']:.2f}; by front door: "
            f"{doors}); largest: " + ", ".join(f"{k} ${v:,.2f}" for k, v in top)
        )
    return lines


def table(r: dict) -> list[str]:
    """Markdown: one column per fleet size."""
    fleets = r["fleets"]
    head = "| per month | " + " | ".join(f"{d:,} devices" for d in fleets) + " |"
    rows = [head, "| --- |" + " --- |" * len(fleets)]

    def row(label, fn):
        rows.append(f"| {label} | " + " | ".join(fn(m) for m in fleets.values()) + " |")

    row("check-ins (per second)", lambda m: f"{m['check_ins'] / 1e6:,.2f} M ({m['check_ins_per_second']:,.1f}/s)")
    row("API requests (LoadMaster's routes)", lambda m: f"{m['api_requests'] / 1e6:,.2f} M")
    row("DynamoDB write request units", lambda m: f"{m['write_request_units'] / 1e6:,.2f} M")
    row("DynamoDB read request units", lambda m: f"{m['read_request_units'] / 1e6:,.3f} M")
    row(
        "Lambda invocations / GB-seconds",
        lambda m: f"{m['lambda_invocations'] / 1e6:,.2f} M / {m['lambda_gb_seconds']:,.0f}",
    )
    row(
        "log bytes per check-in (app + platform + access)",
        lambda m: " + ".join(f"{v:.0f}" for v in m["log_bytes_per_check_in"].values()),
    )
    row("CloudWatch Logs ingested", lambda m: f"{m['log_gb']:,.2f} GB")
    row("data transfer out", lambda m: f"{m['out_gb']:,.2f} GB")
    row("DynamoDB storage", lambda m: f"{m['storage_gb']:,.3f} GB")
    for component in next(iter(fleets.values()))["dollars"]:
        row(f"$ {component}", lambda m, c=component: f"{m['dollars'][c]:,.2f}")
    row("**$ total**", lambda m: f"**{m['total']:,.2f}**")
    row("**$ per 1 000 device-months**", lambda m: f"**{m['per_1000_device_months']:.2f}**")
    row(
        "$ physical floor per 1 000 device-months (1 WRU + 1 Lambda request per check-in)",
        lambda m: f"{m['floor_per_1000_device_months']:.2f}",
    )
    row("ratio to the floor", lambda m: f"{m['ratio_to_floor']:.2f}")
    row(
        "$ bound per 1 000 device-months through this front door (floor + its request price + the answer's "
        "bytes + the EMF line)",
        lambda m: f"{m['bound_per_1000_device_months']:.2f}",
    )
    row("$ per 1 000 device-months, slow-Lambda duration", lambda m: f"{m['per_1000_device_months_slow_lambda']:.2f}")
    for machine in PRICES["lambda_gb_second"]:
        row(
            f"$ per 1 000 device-months with every function on {machine}",
            lambda m, a=machine: f"{m['per_1000_device_months_by_architecture'][a]:.2f}",
        )
    for door in PRICES["api_gateway_tiers"]:
        row(
            f"$ per 1 000 device-months through the {DOORS[door]}",
            lambda m, d=door: f"{m['per_1000_device_months_by_front_door'][d]:.2f}",
        )
    return rows


def main() -> None:
    """Price a template with the figures of an earlier ``make bench`` run, without measuring again."""
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=main.__doc__)
    parser.add_argument("--bench", type=Path, default=Path("out/bench.json"), help="a run's figures (make bench)")
    parser.add_argument("--template", type=Path, required=True, help="sam.json of python -m infra.build --out DIR")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a stack parameter as deployed (DeviceFrontDoor=FunctionUrl); the others at their default",
    )
    args = parser.parse_args()
    parameters = dict(item.split("=", 1) for item in args.parameter)
    figures = json.loads(args.bench.read_text())
    r = run(
        figures["check_in"],
        figures["endpoints"],
        figures["fleet"],
        figures["overhead"],
        json.loads(args.template.read_text()),
        parameters,
    )
    print("\n".join([*report(r), "", *table(r)]))


if __name__ == "__main__":
    main()
