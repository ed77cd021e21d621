"""The DynamoDB call counts behind docs/PERFORMANCE.md, as a regression test: counts only (never
times), on small fleets, with the same code ``python -m bench`` runs (``bench/``)."""

from __future__ import annotations

import pytest

from bench import check_in, endpoints, fleet
from bench.capture import stdout_captured
from bench.world import World
from chalicelib.settings import get_settings


@pytest.fixture(scope="module")
def check_ins() -> dict:
    return check_in.run(hours=24, devices=3)


@pytest.fixture(scope="module")
def requests() -> dict:
    return endpoints.run()


@pytest.fixture(scope="module")
def small_fleet() -> dict:
    return fleet.run(devices=1_000)


def test_a_check_in_is_one_update_item_and_reads_nothing(check_ins):
    assert check_ins["one_check_in"] == ["UpdateItem(devices)"]
    assert check_ins["call_sequences"] == {"UpdateItem(devices)": check_ins["check_ins"]} == {"UpdateItem(devices)": 72}
    assert check_ins["other_aws_calls"] == {} and check_ins["one_check_in_other_aws_calls"] == []
    # The keys are read again once per TTL of the container's time, whatever its traffic.
    assert check_ins["key_refreshes_per_container_hour"] <= 3600 / get_settings().signing_key_ttl_s


def test_the_device_item_stays_under_one_kilobyte(check_ins):
    assert check_ins["item_bytes"] < 1024
    assert check_ins["item_bytes_longest_fields"] < 1024
    assert check_ins["table_wru_per_check_in"] == 1


def test_check_ins_move_the_due_index_entry_once_per_bucket(check_ins):
    # Hourly check-ins, 12 h buckets: the silent-due entry moves (a delete and a put) on 1 check-in
    # in 12, the pending-due index is never touched, by-tenant (projecting ALL) at most once each.
    moves = check_ins["index_key_moves_per_check_in"]
    writes = check_ins["index_writes_per_check_in"]
    assert moves["silent-due"] <= 0.1
    assert writes["silent-due"] == pytest.approx(2 * moves["silent-due"])
    assert writes["pending-due"] == 0
    assert writes["by-tenant"] <= 1


def test_an_activation_is_one_transaction_and_two_reads(requests):
    activation = requests["activation"]
    assert activation["calls"][:2] == ["GetItem(tenants)", "GetItem(license-types)"]
    assert activation["calls"][2].startswith("TransactWriteItems(")
    assert len(activation["calls"]) == 3
    assert activation["transactions"] == 1 and activation["reads"] <= 2
    assert activation["other_aws_calls"] == []


def test_no_request_path_scans_except_the_operators_listings(requests):
    assert requests["unexercised_routes"] == [], "add the new route to bench/endpoints.py's mix"
    assert requests["unexpected_scans"] == {}
    assert set(requests["request_paths_with_scan"]) <= endpoints.OPERATOR_LISTINGS
    assert requests["devices_table_scans"] == []
    assert requests["routes"]["POST /v1/devices/{device_id}/check-ins"]["calls"] == ["UpdateItem(devices)"]


def test_sweeps_read_only_the_due_items(small_fleet):
    from chalicelib.store.models import DUE_SHARDS

    for name in ("deactivate_silent", "block_unconfirmed"):
        sweep = small_fleet[name]
        assert sweep["due"] > 0
        assert sweep["items_read"] == sweep["due"] == sweep["acted"]
        assert sweep["queries"] == DUE_SHARDS
        assert sweep["other_calls"] == []
    again = small_fleet["deactivate_silent_again"]
    assert (again["items_read"], again["queries"]) == (0, DUE_SHARDS)
    assert small_fleet["scan"]["items_read"] == small_fleet["devices_table"]["items"]


def test_the_meter_reads_license_types_not_devices(small_fleet):
    before, after, more = (
        small_fleet[k] for k in ("meter_before_fleet", "meter_with_fleet", "meter_with_8_more_types")
    )
    assert (before["reads"], before["items_read"]) == (after["reads"], after["items_read"]) == (1, 4)
    assert more["items_read"] == after["items_read"] + 8
    # Per license type an hour: its record, and its metered_through mark moved (what lets a
    # missed or failed hour be metered by the next run).
    assert after["writes"] == 2 * after["license_types"]


def test_calls_do_not_grow_with_the_fleet(small_fleet):
    (activation,) = small_fleet["activations_at_fleet"]
    assert activation.startswith("GetItem(tenants), GetItem(license-types), TransactWriteItems(")
    assert small_fleet["check_ins_at_fleet"] == {"UpdateItem(devices)": 50}


def test_the_bench_keeps_motos_rollback_of_a_refused_transaction():
    # bench.moto_scale.fast_transactions snapshots only the items a transaction names: a refused
    # activation (the MAC holds a license of another type) must leave every count as it was.
    with World() as world, stdout_captured():
        tenant = world.new_tenant("Rollback", capacity=10, skus=("VLM-MAX-SPLA", "VLM-200-SPLA"), type_capacity=5)
        device = world.activate(tenant)
        lm = {**device.lm, "sku": "VLM-200-SPLA"}
        refused = world.api.call(
            "POST", "/v1/activations", {**lm, "lic_type_id": tenant.types["VLM-200-SPLA"]}, tenant.loadmaster
        )
        types = {
            t["sku"]: t["in_use"]
            for t in world.ok("GET", "/v1/license-types", headers=tenant.admin).body["license_types"]
        }
        state = world.ok("GET", "/v1/license", headers=tenant.admin).body
    assert refused.status == 409
    assert types == {"VLM-MAX-SPLA": 1, "VLM-200-SPLA": 0}
    assert state["in_use"] == 1
