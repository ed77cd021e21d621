"""The tenant administrator's commands: license, types, devices, usage, events, settings, keys."""

import csv
import io

from tests.conftest import activate, first_type_id

CONTRACT = {"contract_id": "C-1", "capacity": 20, "starts_at": "2026-11-01T00:00:00Z"}


def _macs(n: int) -> list[tuple[str, str]]:
    return [(f"00:50:56:00:10:{i:02x}", f"10.2.0.{i + 1}") for i in range(n)]


def test_license_shows_the_state(licensing, trial_tenant):
    result = licensing("license", tenant=trial_tenant)
    assert result.exit_code == 0
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["state"] == "TRIAL" and lines["capacity"] == "5" and lines["in_use"] == "0"


def test_license_types_crud(licensing, new_tenant):
    keys = new_tenant(contract=CONTRACT)
    created = licensing.json(
        "types",
        "create",
        "--name",
        "Max",
        "--sku",
        "VLM-MAX-SPLA",
        "--capacity",
        "4",
        "--overage",
        "allow_1_5x",
        tenant=keys,
    )
    lic_type_id = created["lic_type_id"]
    assert (created["capacity"], created["available"], created["overage_policy"]) == (4, 4, "ALLOW_1_5X")

    listed = licensing("types", "list", tenant=keys)
    assert lic_type_id in listed.stdout and "Max" in listed.stdout

    updated = licensing.json("types", "update", lic_type_id, "--name", "Max pool", "--capacity", "6", tenant=keys)
    assert (updated["name"], updated["capacity"]) == ("Max pool", 6)
    assert licensing.json("types", "show", lic_type_id, tenant=keys) == updated

    nothing = licensing("types", "update", lic_type_id, tenant=keys)
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr

    deleted = licensing("types", "delete", lic_type_id, tenant=keys)
    assert deleted.exit_code == 0 and f"Deleted license type {lic_type_id}" in deleted.stderr
    gone = licensing("types", "show", lic_type_id, tenant=keys)
    assert gone.exit_code == 1 and "Error: NOT_FOUND:" in gone.stderr


def test_a_type_in_use_cannot_be_deleted(licensing, api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    activate(api, trial_tenant, lic_type_id)
    result = licensing("types", "delete", lic_type_id, tenant=trial_tenant)
    assert result.exit_code == 1 and "Error: CONFLICT:" in result.stderr


def test_devices_list_pages_and_follows_next_with_all(licensing, api, new_tenant):
    keys = new_tenant(contract=CONTRACT)
    lic_type_id = licensing.json(
        "types", "create", "--name", "Max", "--sku", "VLM-MAX-SPLA", "--capacity", "10", tenant=keys
    )["lic_type_id"]
    for mac, ip in _macs(7):
        assert activate(api, keys, lic_type_id, mac=mac, ip=ip).status == 201

    one_page = licensing("devices", "list", "--limit", "3", tenant=keys)
    assert one_page.exit_code == 0
    assert len(one_page.stdout.splitlines()) == 1 + 3
    assert "--all lists every page" in one_page.stderr

    every = licensing.json("devices", "list", "--limit", "3", "--all", tenant=keys)
    assert len(every["devices"]) == 7 and every["next"] is None
    assert {d["mac"] for d in every["devices"]} == {mac for mac, _ in _macs(7)}
    pages = [p for m, p in licensing.adapter.seen if p.startswith("/v1/devices?")]
    assert len(pages) >= 1 + 3  # the single page, then three pages of 3, 3, 1 (and maybe an empty one)

    table = licensing("devices", "list", "--limit", "3", "--all", tenant=keys)
    assert len(table.stdout.splitlines()) == 1 + 7 and table.stderr == ""


def test_devices_list_filters(licensing, api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    (mac1, ip1), (mac2, ip2) = _macs(2)
    first = activate(api, trial_tenant, lic_type_id, mac=mac1, ip=ip1).body
    activate(api, trial_tenant, lic_type_id, mac=mac2, ip=ip2)
    api.post(f"/v1/devices/{first['device_id']}/confirm", headers={"Authorization": f"Device {first['device_token']}"})

    def ids(*args):
        found = licensing.json("devices", "list", "--all", *args, tenant=trial_tenant)["devices"]
        return [d["device_id"] for d in found]

    assert ids("--status", "active") == [first["device_id"]]
    assert len(ids("--status", "PENDING")) == 1
    assert ids("--mac", mac1.upper()) == [first["device_id"]]
    assert len(ids("--ip", ip2)) == 1
    assert len(ids("--type", lic_type_id)) == 2


def test_device_show_unblock_and_delete(licensing, api, trial_tenant, sweep):
    lic_type_id = first_type_id(api, trial_tenant)
    unconfirmed = activate(api, trial_tenant, lic_type_id).body
    device_id = unconfirmed["device_id"]
    sweep("block_unconfirmed", "2026-11-30T21:00:00Z")

    shown = licensing("devices", "show", device_id, tenant=trial_tenant)
    assert shown.exit_code == 0
    assert "BLOCKED" in shown.stdout and "history:" in shown.stdout

    unblocked = licensing.json("devices", "unblock", device_id, tenant=trial_tenant)
    assert unblocked["status"] == "DEACTIVATED"
    twice = licensing("devices", "unblock", device_id, tenant=trial_tenant)
    assert twice.exit_code == 1 and "Error: CONFLICT:" in twice.stderr

    declined = licensing("devices", "delete", device_id, tenant=trial_tenant, input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.stderr
    assert licensing("devices", "show", device_id, tenant=trial_tenant).exit_code == 0

    deleted = licensing("devices", "delete", device_id, tenant=trial_tenant, input="y\n")
    assert deleted.exit_code == 0 and f"Deleted device {device_id}" in deleted.stderr
    gone = licensing("devices", "show", device_id, tenant=trial_tenant)
    assert gone.exit_code == 1 and "Error: NOT_FOUND:" in gone.stderr


def test_deleting_a_device_releases_its_instance_and_its_check_in_is_unknown(licensing, api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    device = activate(api, trial_tenant, lic_type_id).body
    assert licensing.json("license", tenant=trial_tenant)["in_use"] == 1

    assert licensing("devices", "delete", device["device_id"], "--yes", tenant=trial_tenant).exit_code == 0

    assert licensing.json("license", tenant=trial_tenant)["in_use"] == 0
    check_in = api.post(
        f"/v1/devices/{device['device_id']}/check-ins",
        {"mac": "00:50:56:aa:bb:01", "ip": "10.0.0.5", "port": 443, "version": "7.2.47"},
        headers={"Authorization": f"Device {device['device_token']}"},
    )
    assert check_in.code == "UNKNOWN_DEVICE"


def test_keys_rotate_prints_the_new_key_once_and_the_old_one_stops_working(licensing, api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    declined = licensing("keys", "rotate", "api", tenant=trial_tenant, input="n\n")
    assert declined.exit_code == 1 and licensing.json("license", tenant=trial_tenant)["state"] == "TRIAL"

    rotated = licensing("keys", "rotate", "api", "--yes", tenant=trial_tenant)
    assert rotated.exit_code == 0
    new_key = rotated.stdout.strip()
    assert new_key.startswith("lk_api.") and new_key != trial_tenant.api_key
    assert "LICENSING_API_KEY" in rotated.stderr

    old = licensing("license", tenant=trial_tenant)
    assert old.exit_code == 1 and old.stderr.startswith("Error: UNAUTHORIZED:")
    new = licensing("license", env={"LICENSING_API_KEY": new_key})
    assert new.exit_code == 0 and "TRIAL" in new.stdout

    activation = licensing.json("keys", "rotate", "activation", "--yes", env={"LICENSING_API_KEY": new_key})
    assert activation["kind"] == "activation" and activation["key"].startswith("lk_act.")
    refused = activate(api, trial_tenant, lic_type_id)  # with the old activation key
    assert refused.code == "VERIFY_FAILED"


def test_usage_prints_the_month_and_writes_csv_to_a_file(licensing, api, trial_tenant, sweep, tmp_path):
    lic_type_id = first_type_id(api, trial_tenant)
    for mac, ip in _macs(2):
        activate(api, trial_tenant, lic_type_id, mac=mac, ip=ip)
    for hour in ("21", "22", "23"):
        sweep("meter_usage", f"2026-11-28T{hour}:00:00Z")

    month = licensing.json("usage", "--month", "2026-11", tenant=trial_tenant)
    [row] = month["license_types"]
    assert (row["instance_hours"], row["peak_instances"], row["overage_hours"]) == (6, 2, 0)

    table = licensing("usage", "--month", "2026-11", tenant=trial_tenant)
    assert "Usage of 2026-11" in table.stdout and lic_type_id in table.stdout

    target = tmp_path / "usage.csv"
    written = licensing("usage", "--month", "2026-11", "--csv", str(target), tenant=trial_tenant)
    assert written.exit_code == 0 and "Wrote 1 rows" in written.stderr
    [csv_row] = list(csv.DictReader(io.StringIO(target.read_text())))
    assert (csv_row["lic_type_id"], csv_row["instance_hours"], csv_row["month"]) == (lic_type_id, "6", "2026-11")

    to_stdout = licensing("usage", "--month", "2026-11", "--csv", "-", tenant=trial_tenant)
    assert to_stdout.stdout == target.read_text()

    misplaced = licensing("usage", "--month", "2026-11", "export", operator=True)
    assert misplaced.exit_code == 2


def test_events_lists_the_debug_log_and_filters_by_device(licensing, api, trial_tenant):
    lic_type_id = first_type_id(api, trial_tenant)
    (mac1, ip1), (mac2, ip2) = _macs(2)
    first = activate(api, trial_tenant, lic_type_id, mac=mac1, ip=ip1).body
    activate(api, trial_tenant, lic_type_id, mac=mac2, ip=ip2)

    every = licensing.json("events", "--all", tenant=trial_tenant)["events"]
    assert len(every) >= 2
    mine = licensing.json("events", "--device", first["device_id"], tenant=trial_tenant)["events"]
    assert mine and {e["device_id"] for e in mine} == {first["device_id"]}

    table = licensing("events", "--device", first["device_id"], tenant=trial_tenant)
    assert table.stdout.split()[:3] == ["AT", "KIND", "DEVICE_ID"]

    paged = licensing.json("events", "--limit", "1", tenant=trial_tenant)
    assert len(paged["events"]) == 1 and paged["next"]


def test_settings_show_and_set_with_durations(licensing, trial_tenant):
    shown = licensing("settings", "show", tenant=trial_tenant)
    assert "confirm_window_s" in shown.stdout and "86400 s (1d)" in shown.stdout

    changed = licensing.json(
        "settings",
        "set",
        "--confirm-window",
        "2h",
        "--silent-after",
        "3d",
        "--lease",
        "1w",
        "--check-in-interval",
        "900",
        tenant=trial_tenant,
    )
    assert changed == {
        "confirm_window_s": 7200,
        "check_in_interval_s": 900,
        "silent_after_s": 259200,
        "lease_s": 604800,
    }
    assert licensing.json("settings", "show", tenant=trial_tenant) == changed

    too_short = licensing("settings", "set", "--confirm-window", "10s", tenant=trial_tenant)
    assert too_short.exit_code == 1
    assert "Error: VALIDATION_ERROR:" in too_short.stderr and "confirm_window_s" in too_short.stderr

    not_a_duration = licensing("settings", "set", "--lease", "soon", tenant=trial_tenant)
    assert not_a_duration.exit_code == 2

    nothing = licensing("settings", "set", tenant=trial_tenant)
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr


def test_a_tenant_command_without_a_key_says_which_variable(licensing):
    result = licensing("devices", "list")
    assert result.exit_code == 2 and "LICENSING_API_KEY" in result.stderr


def test_the_operator_key_is_not_a_tenant_key(licensing):
    result = licensing("license", env={"LICENSING_API_KEY": "lk_op.test-operator-key-0123456789"})
    assert result.exit_code == 1 and result.stderr.startswith("Error: FORBIDDEN:")


def test_device_replace_moves_the_license_and_prints_the_successors_token(licensing, api, trial_tenant):
    device = activate(api, trial_tenant, first_type_id(api, trial_tenant)).body

    replaced = licensing.json(
        "devices",
        "replace",
        device["device_id"],
        "--mac",
        "00:50:56:aa:bb:99",
        "--ip",
        "10.0.0.99",
        tenant=trial_tenant,
    )
    refused = licensing(
        "devices", "replace", device["device_id"], "--mac", "nope", "--ip", "10.0.0.99", tenant=trial_tenant
    )

    assert replaced["device_id"] == device["device_id"] and replaced["mac"] == "00:50:56:aa:bb:99"
    assert replaced["device_token"] != device["device_token"]
    assert refused.exit_code == 1 and "Error: VALIDATION_ERROR:" in refused.stderr
