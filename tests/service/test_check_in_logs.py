"""What a check-in costs in logs: every LoadMaster checks in every hour, so a line per successful
check-in is the fleet's biggest log bill. A successful one writes no line of the service's at
INFO, only its metric (the EMF line CloudWatch reads CheckIns from); what an operator acts on is
still logged (a suspected clone). Lambda's own START/END/REPORT lines are dropped by the API
function's logging configuration (infra/template.py, API_LOGGING) and the access log keeps one
line per request."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from tests.conftest import T0, activate, first_type_id, lm


def _device(api, keys):
    granted = activate(api, keys, first_type_id(api, keys)).body
    return granted["device_id"], {"Authorization": f"Device {granted['device_token']}"}


def _check_in(api, device_id, headers, **overrides):
    body = {k: v for k, v in lm(**overrides).items() if k in ("mac", "ip", "port", "version")}
    return api.post(f"/v1/devices/{device_id}/check-ins", body, headers=headers)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_successful_check_in_logs_nothing_at_info_and_counts_its_metric(api, trial_tenant, clock, capsys, caplog):
    device_id, headers = _device(api, trial_tenant)
    clock.set_now(T0 + timedelta(hours=3))
    capsys.readouterr()
    caplog.clear()

    with caplog.at_level(logging.DEBUG):
        reply = _check_in(api, device_id, headers)

    assert reply.status == 200, reply.body
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []
    # The service's log lines are the records above; what it prints is the metric's line alone.
    (line,) = _lines(capsys.readouterr().out)
    assert "level" not in line and "message" not in line
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert [m["Name"] for m in directive["Metrics"]] == ["CheckIns"] and line["CheckIns"] == [1.0]


def test_a_refused_check_in_is_still_logged_for_the_operator(api, trial_tenant, clock, caplog):
    device_id, headers = _device(api, trial_tenant)
    caplog.clear()

    with caplog.at_level(logging.DEBUG):
        reply = _check_in(api, device_id, headers, mac="00:50:56:ff:ff:ff")  # another LoadMaster, its token

    assert reply.status >= 400
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert logged == [("WARNING", "clone suspected")]
