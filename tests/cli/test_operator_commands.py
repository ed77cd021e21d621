"""The operator's commands: tenants, trial, contract, terminate, owner, the billing export, and
how the CLI reports the service's errors."""

import csv
import io

from tests.conftest import activate, first_type_id

CONTRACT = ["--id", "C-42", "--capacity", "10", "--starts", "2026-11-01", "--ends", "2027-10-31T23:59:59Z"]


def test_tenants_are_created_listed_and_shown(licensing):
    created = licensing("tenants", "create", "Acme Corp", "--owner", "admin@acme.example", operator=True)
    assert created.exit_code == 0, created.output
    assert "Acme Corp" in created.stdout and "UNLICENSED" in created.stdout
    assert "lk_api." in created.stdout and "lk_act." in created.stdout  # shown once, at creation
    assert "shown only this once" in created.stderr

    as_json = licensing.json("tenants", "create", "Globex", "--owner", "ops@globex.example", operator=True)
    assert as_json["state"] == "UNLICENSED" and as_json["api_key"].startswith("lk_api.")

    listed = licensing("tenants", "list", operator=True)
    assert listed.exit_code == 0
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["TENANT_ID", "NAME", "STATE"]
    assert len(rows) == 2 and any("Globex" in r for r in rows)

    tenants = licensing.json("tenants", "list", operator=True)["tenants"]
    assert {t["name"] for t in tenants} == {"Acme Corp", "Globex"}

    shown = licensing("tenants", "show", as_json["tenant_id"], operator=True)
    assert shown.exit_code == 0
    assert "ops@globex.example" in shown.stdout and "api_key" not in shown.stdout


def test_tenants_list_follows_the_cursor_with_all(licensing, new_tenant):
    for n in range(5):
        new_tenant(name=f"T{n}")
    page = licensing("tenants", "list", "--limit", "2", operator=True)
    assert len(page.stdout.splitlines()) == 1 + 2 and "--all" in page.stderr
    every = licensing.json("tenants", "list", "--limit", "2", "--all", operator=True)
    assert len(every["tenants"]) == 5 and every["next"] is None


def test_trial_with_options_creates_a_type_per_sku(licensing, new_tenant, api):
    keys = new_tenant()
    result = licensing.json(
        "trial",
        keys.tenant_id,
        "--days",
        "14",
        "--instances",
        "3",
        "--sku",
        "VLM-MAX-SPLA",
        "--sku",
        "VLM-200-SPLA",
        operator=True,
    )
    assert result["state"] == "TRIAL" and result["trial_expires_at"] == "2026-12-12T20:00:00Z"
    types = licensing.json("types", "list", tenant=keys)["license_types"]
    assert sorted((t["sku"], t["capacity"]) for t in types) == [("VLM-200-SPLA", 3), ("VLM-MAX-SPLA", 3)]


def test_contract_makes_the_tenant_licensed(licensing, new_tenant):
    keys = new_tenant()
    result = licensing("contract", keys.tenant_id, *CONTRACT, operator=True)
    assert result.exit_code == 0, result.output
    state = licensing.json("license", tenant=keys)
    assert (state["state"], state["contract_id"], state["capacity"]) == ("LICENSED", "C-42", 10)
    assert state["contract_ends_at"] == "2027-10-31T23:59:59Z"


def test_contract_refuses_a_time_without_zone_before_any_request(licensing, new_tenant):
    keys = new_tenant()
    result = licensing(
        "contract", keys.tenant_id, "--id", "C-1", "--capacity", "5", "--starts", "2026-11-01T00:00:00", operator=True
    )
    assert result.exit_code == 2 and "time zone" in result.stderr
    assert licensing.adapter.seen == []


def test_terminate_asks_first_then_deactivates_everything(licensing, api, trial_tenant):
    activate(api, trial_tenant, first_type_id(api, trial_tenant))

    declined = licensing("terminate", trial_tenant.tenant_id, operator=True, input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.stderr
    assert licensing.json("license", tenant=trial_tenant)["state"] == "TRIAL"

    confirmed = licensing("--json", "terminate", trial_tenant.tenant_id, operator=True, input="y\n")
    assert confirmed.exit_code == 0
    assert '"devices_deactivated": 1' in confirmed.stdout
    assert licensing.json("license", tenant=trial_tenant)["state"] == "TERMINATED"

    again = licensing("terminate", trial_tenant.tenant_id, "--yes", operator=True)
    assert again.exit_code in (0, 1)  # idempotent or a CONFLICT; never a prompt
    assert "Terminate tenant" not in again.stderr


def test_owner_changes_the_owner(licensing, new_tenant):
    keys = new_tenant()
    result = licensing.json("owner", keys.tenant_id, "new-owner@acme.example", operator=True)
    assert result["owner_email"] == "new-owner@acme.example"


def test_usage_export_writes_every_tenant_as_csv(licensing, api, new_tenant, sweep, tmp_path):
    first, second = new_tenant(name="First", trial={}), new_tenant(name="Second", trial={})
    activate(api, first, first_type_id(api, first))
    activate(api, second, first_type_id(api, second), mac="00:50:56:aa:bb:02")
    activate(api, second, first_type_id(api, second), mac="00:50:56:aa:bb:03", ip="10.0.0.6")
    sweep("meter_usage", "2026-11-28T21:00:00Z")
    sweep("meter_usage", "2026-11-28T22:00:00Z")

    target = tmp_path / "billing.csv"
    result = licensing("usage", "export", "--month", "2026-11", "--csv", str(target), operator=True)
    assert result.exit_code == 0, result.output
    assert f"to {target}" in result.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    hours = {r["tenant_name"]: int(r["instance_hours"]) for r in rows}
    assert hours == {"First": 2, "Second": 4}

    as_json = licensing.json("usage", "export", "--month", "2026-11", operator=True)
    assert as_json["month"] == "2026-11" and len(as_json["tenants"]) == 2
    table = licensing("usage", "export", "--month", "2026-11", operator=True)
    assert "2 tenants" in table.stdout and "Second" in table.stdout


def test_usage_export_refuses_a_bad_month_locally(licensing):
    result = licensing("usage", "export", "--month", "2026-13", operator=True)
    assert result.exit_code == 2 and "2026-13" in result.stderr
    assert licensing.adapter.seen == []


def test_an_api_error_prints_its_code_and_message_and_exits_1(licensing, trial_tenant):
    missing = licensing("tenants", "show", "t-does-not-exist", operator=True)
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: NOT_FOUND: ")

    twice = licensing("trial", trial_tenant.tenant_id, operator=True)
    assert twice.exit_code == 1 and "Error: CONFLICT:" in twice.stderr

    # A tenant key on an operator path: the contract's FORBIDDEN, not a traceback.
    wrong_role = licensing("tenants", "list", env={"LICENSING_OPERATOR_KEY": trial_tenant.api_key})
    assert wrong_role.exit_code == 1
    assert wrong_role.stderr.strip() == "Error: FORBIDDEN: Operator credentials are required."


def test_a_validation_error_names_the_fields(licensing):
    result = licensing("tenants", "create", "Acme", "--owner", "not-an-email", operator=True)
    assert result.exit_code == 1
    assert "Error: VALIDATION_ERROR: " in result.stderr and "owner_email" in result.stderr


def test_json_errors_go_to_stdout_for_scripts(licensing):
    result = licensing("--json", "tenants", "show", "t-nope", operator=True)
    assert result.exit_code == 1
    assert '"code": "NOT_FOUND"' in result.stdout and '"status": 404' in result.stdout


def test_an_operator_command_without_a_key_says_which_variable(licensing):
    result = licensing("tenants", "list")
    assert result.exit_code == 2
    assert "LICENSING_OPERATOR_KEY" in result.stderr
    assert licensing.adapter.seen == []
