"""The local stack, the tests and the benchmarks run a scheduled function with the time it has
when deployed: chalice's test client gives every function 3 s, and the sweeps plan their work by
the time left (a busy machine used the 3 s before their first batch, and they did nothing)."""

import json

from chalice import Chalice

from local import ROOT
from local.schedules import DEPLOYED_TIMEOUT_MS, Client


def test_a_function_gets_the_timeout_it_is_deployed_with():
    app = Chalice("timeouts")

    @app.lambda_function(name="sweep")
    def sweep(event, context):
        return {"remaining_ms": context.get_remaining_time_in_millis(), "event": event}

    with Client(app, stage_name="dev", project_dir=str(ROOT)) as client:
        payload = client.lambda_.invoke("sweep", {"at": "now"}).payload

    deployed_s = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["package"]["lambda_timeout"]
    assert DEPLOYED_TIMEOUT_MS == deployed_s * 1_000 == 30_000
    assert DEPLOYED_TIMEOUT_MS - 1_000 < payload["remaining_ms"] <= DEPLOYED_TIMEOUT_MS
    assert payload["event"] == {"at": "now"}
