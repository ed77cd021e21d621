"""``licensing simulate``: a fleet of LoadMasters through the CLI's thread pool, against the app."""

import requests
from click.testing import CliRunner

from cli.main import cli
from cli.simulate import fleet_addresses, is_loopback


def test_six_loadmasters_on_a_five_instance_trial(licensing, trial_tenant):
    summary = licensing.json(
        "simulate", "--count", "6", "--rounds", "2", "--concurrency", "4", tenant=trial_tenant, activation=True
    )

    assert summary["fleet"] == 6
    assert summary["granted"] == 5 and summary["confirmed"] == 5
    assert summary["refused"] == {"INSTANCE_LIMIT_REACHED": 1}
    assert summary["check_ins"] == {"ok": 10, "failed": 0, "failed_by_code": {}}
    assert summary["failures"] == 0
    # 6 x license-types, 6 activations, 5 confirms, 2 x 5 check-ins (the health probe is not counted)
    assert summary["requests"] == 6 + 6 + 5 + 10
    assert summary["elapsed_s"] > 0 and summary["requests_per_s"] > 0
    devices = summary["devices"]
    assert len({d["mac"] for d in devices}) == 6 and len({d["ip"] for d in devices}) == 6

    listed = licensing.json("devices", "list", "--all", "--status", "ACTIVE", tenant=trial_tenant)["devices"]
    assert {d["device_id"] for d in listed} == {d["device_id"] for d in devices if d["outcome"] == "granted"}
    assert all(d["last_check_in_at"] for d in listed)
    keys = [p for m, p in licensing.adapter.seen if p == "/v1/activations"]
    assert len(keys) == 6


def test_the_summary_for_people(licensing, trial_tenant):
    result = licensing("simulate", "-n", "6", "-k", "1", tenant=trial_tenant, activation=True)
    assert result.exit_code == 0, result.output
    assert "granted           5  (confirmed 5)" in result.stdout
    assert "refused           1  (INSTANCE_LIMIT_REACHED 1)" in result.stdout
    assert "check-ins ok      5" in result.stdout
    assert "requests/s" in result.stdout
    assert "6 LoadMasters" in result.stderr  # the progress bar's label, on stderr


def test_a_silent_fraction_stops_checking_in(licensing, trial_tenant):
    summary = licensing.json(
        "simulate", "--count", "5", "--rounds", "3", "--silent", "0.4", tenant=trial_tenant, activation=True
    )
    assert summary["granted"] == 5 and summary["silent"] == 2
    assert summary["check_ins"]["ok"] == 3 * 3
    silent = [d for d in summary["devices"] if d["silent"]]
    assert len(silent) == 2 and all(d["check_ins_ok"] == 0 and d["confirmed"] for d in silent)


def test_an_idle_pool_refuses_every_loadmaster_with_its_code(licensing, new_tenant):
    unlicensed = new_tenant()
    summary = licensing.json("simulate", "-n", "3", "-k", "1", tenant=unlicensed, activation=True)
    assert summary["granted"] == 0 and summary["refused"] == {"CENTRAL_UNLICENSED": 3}
    assert summary["failures"] == 0


def test_a_wrong_activation_key_is_verify_failed(licensing, trial_tenant):
    summary = licensing.json(
        "simulate", "-n", "2", tenant=trial_tenant, env={"LICENSING_ACTIVATION_KEY": "lk_act.nope.nope"}
    )
    assert summary["refused"] == {"VERIFY_FAILED": 2}


def test_another_sku_is_refused(licensing, trial_tenant):
    summary = licensing.json("simulate", "-n", "2", "--sku", "VLM-5000-SPLA", tenant=trial_tenant, activation=True)
    assert summary["refused"] == {"NO_LICENSE_FOR_SKU": 2}


def test_simulate_needs_the_activation_key(licensing, trial_tenant):
    result = licensing("simulate", "-n", "2", tenant=trial_tenant)
    assert result.exit_code == 2 and "LICENSING_ACTIVATION_KEY" in result.stderr
    assert licensing.adapter.seen == []


def test_simulate_stays_on_this_machine_unless_told(licensing, trial_tenant):
    result = licensing(
        "--url", "https://licensing.example.com", "simulate", "-n", "2", tenant=trial_tenant, activation=True
    )
    assert result.exit_code == 2 and "--allow-remote" in result.stderr
    assert licensing.adapter.seen == []


def test_fleet_addresses_are_distinct():
    pairs = fleet_addresses(1000)
    assert len({mac for mac, _ in pairs}) == 1000 and len({ip for _, ip in pairs}) == 1000
    assert all(mac.startswith("02:") for mac, _ in pairs)  # locally administered
    assert all(ip.startswith("10.") for _, ip in pairs)


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("10.0.0.1") and not is_loopback("licensing.example.com")


class Refused(requests.adapters.BaseAdapter):
    def send(self, request, **kwargs):
        raise requests.ConnectionError("connection refused")

    def close(self):
        pass


def _unreachable_session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", Refused())
    return session


def test_an_unreachable_stack_is_one_line_and_exit_1():
    runner = CliRunner()
    env = {"LICENSING_API_KEY": "lk_api.x.y", "LICENSING_ACTIVATION_KEY": "lk_act.x.y"}
    for args in (["license"], ["simulate", "-n", "3"]):
        result = runner.invoke(cli, args, env=env, obj={"session_factory": _unreachable_session})
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: cannot reach http://127.0.0.1:8000: connection refused")
        assert "Traceback" not in result.output
