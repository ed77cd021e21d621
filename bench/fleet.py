"""A fleet at scale: sweeps read only what is due, the meter reads license types, not devices.

The fleet is written with PynamoDB batch writes (``DeviceItem.batch_write()``, i.e. BatchWriteItem),
each device a copy of a real one (activated, confirmed and checked in through the app) with its
own id, MAC, address, license type, times and shard, so it carries exactly the attributes the app
writes; each also gets its MAC and address claims, and the pools' and tenant's ``in_use`` count
them. Then, in the same run:

- a Scan of the devices table with the silent sweep's predicate, the baseline a sweep must beat;
- ``block_unconfirmed`` and ``deactivate_silent`` through the app's schedules: items read (the
  queries' ScannedCount) against the items due (known from how the fleet was written);
- ``meter_usage`` before and after the fleet is written, and after more license types are added;
- activations and check-ins through the app at this fleet size, to show their calls do not grow.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import Counter
from datetime import timedelta

from bench.calls import CallLog, compact
from bench.capture import stdout_captured
from bench.sizes import index_shapes, item_size, raw_item, table_keys
from bench.world import T0, World, loadmaster

SKUS = ("VLM-MAX-SPLA", "VLM-5000-SPLA", "VLM-2000-SPLA", "VLM-500-SPLA")
SILENT_PER_MILLE = 10  # 1 % of the fleet fell silent
PENDING_LATE_PER_MILLE = 1  # 0.1 % never confirmed, past their deadline
PENDING_FRESH_PER_MILLE = 1  # 0.1 % activated recently, not yet confirmed
LM_OFFSET = 1_000  # fleet LoadMaster numbers start here (the world's own ones below)


def _attr(name: str, value) -> dict:
    """A device attribute in DynamoDB's wire format, as the model serialises it."""
    from chalicelib.store.models import DeviceItem

    attribute = DeviceItem.get_attributes()[name]
    return {attribute.attr_type: attribute.serialize(value)}


class Fleet:
    """What was written, and what is due at ``now``."""

    def __init__(self, now) -> None:
        self.now = now
        self.kinds: Counter[str] = Counter()
        self.per_type: Counter[str] = Counter()
        self.silent_due = 0
        self.pending_due = 0
        self.size = 0


def write_fleet(world: World, tenant, template: dict, n: int, *, seed: int = 7) -> Fleet:
    """``n`` devices like ``template`` (a raw device item), with their claims, in batch writes."""
    from chalicelib.store import devices as device_store
    from chalicelib.store.models import ClaimItem, DeviceItem, LicenseTypeItem, TenantItem

    rng = random.Random(seed)
    now = world.now
    fleet = Fleet(now)
    silent_after = int(template["silent_after_s"]["N"])
    confirm_window = timedelta(hours=24)
    types = list(tenant.types.items())
    with DeviceItem.batch_write() as devices, ClaimItem.batch_write() as claims:
        for i in range(n):
            device_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            sku, lic_type_id = types[i % len(types)]
            lm = loadmaster(LM_OFFSET + i, sku)
            per_mille = i % 1000
            if per_mille < SILENT_PER_MILLE:
                kind = "active, silent"
                activated = now - timedelta(days=10 + i % 20)
                last_seen = now - timedelta(hours=36 + i % 12)  # its deadline has passed
            elif per_mille < SILENT_PER_MILLE + PENDING_LATE_PER_MILLE:
                kind = "pending, past confirm_by"
                activated = now - timedelta(hours=30)
                last_seen = now - timedelta(minutes=20)
            elif per_mille < SILENT_PER_MILLE + PENDING_LATE_PER_MILLE + PENDING_FRESH_PER_MILLE:
                kind = "pending, within confirm window"
                activated = now - timedelta(hours=3)
                last_seen = now - timedelta(minutes=20)
            else:
                kind = "active, checking in"
                activated = now - timedelta(days=2 + i % 30)
                last_seen = now - timedelta(minutes=i % 60)
            pending = kind.startswith("pending")
            shard = device_store._shard(device_id)
            raw = dict(template)
            raw.pop("pending_shard", None)
            raw.pop("confirmed_at", None)
            silent_due = device_store.silent_bucket_base(last_seen) + silent_after
            raw.update(
                {
                    "device_id": {"S": device_id},
                    "mac": {"S": lm["mac"]},
                    "ip": {"S": lm["ip"]},
                    "port": {"N": str(lm["port"])},
                    "sku": {"S": sku},
                    "lic_type_id": {"S": lic_type_id},
                    "status": {"S": "PENDING" if pending else "ACTIVE"},
                    "activated_at": _attr("activated_at", activated),
                    "confirm_by": _attr("confirm_by", activated + confirm_window),
                    "last_check_in_at": _attr("last_check_in_at", last_seen),
                    "silent_shard": {"S": f"S{shard}"},
                    "silent_due": {"N": str(silent_due)},
                    "silent_at": {"N": str(int(last_seen.timestamp()) + silent_after)},
                }
            )
            if pending:
                raw["pending_shard"] = {"S": f"P{shard}"}
            else:
                raw["confirmed_at"] = _attr("confirmed_at", activated + timedelta(minutes=10))
            devices.save(DeviceItem.from_raw_data(raw))
            claim = {
                "tenant_id": tenant.tenant_id,
                "device_id": device_id,
                "lic_type_id": lic_type_id,
                "created_at": activated,
            }
            address = device_store._address(lm["ip"], lm["port"])
            claims.save(ClaimItem(device_store.mac_claim(tenant.tenant_id, lm["mac"]), **claim))
            claims.save(ClaimItem(device_store.address_claim(tenant.tenant_id, address), **claim))
            fleet.kinds[kind] += 1
            fleet.per_type[lic_type_id] += 1
            fleet.silent_due += silent_due <= now.timestamp()
            fleet.pending_due += pending and activated + confirm_window <= now
            fleet.size += 1
    for lic_type_id, count in fleet.per_type.items():
        LicenseTypeItem(tenant.tenant_id, lic_type_id).update([LicenseTypeItem.in_use.add(count)])
    TenantItem(tenant.tenant_id).update([TenantItem.in_use.add(fleet.size)])
    return fleet


def scan_for_silent(now) -> dict:
    """What a sweep without the index would do: Scan every device, keep those silent (Select
    COUNT: DynamoDB reads and bills every item the same, moto answers faster)."""
    import boto3

    from chalicelib.store.models import DeviceItem

    client = boto3.client("dynamodb", region_name="us-east-1")
    kwargs = {
        "TableName": DeviceItem.Meta.table_name,
        "Select": "COUNT",
        "FilterExpression": "silent_due <= :now",
        "ExpressionAttributeValues": {":now": {"N": str(int(now.timestamp()))}},
    }
    matched = 0
    started = time.perf_counter()
    with CallLog() as log:
        while True:
            page = client.scan(**kwargs)
            matched += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {
        "pages": len(log.dynamodb()),
        "items_read": log.items_read("Scan"),
        "matched": matched,
        "seconds": time.perf_counter() - started,
    }


def table_bytes(model) -> tuple[int, int]:
    """Items and their total size in the table as moto holds it (no request: for the Scan's read units)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(model.Meta.table_name)
    sizes = [item_size(item.to_json()["Attributes"]) for item in table.items.values()]
    return len(sizes), sum(sizes)


def _query_read_units(calls, entry_bytes: int) -> float:
    """Eventually consistent Query read units: each query's items, rounded up to 4 KB, halved
    (an empty query still costs one unit's half)."""
    return sum(max(1, math.ceil(c.scanned * entry_bytes / 4096)) * 0.5 for c in calls if c.operation == "Query")


def sweep(world: World, name: str, at, due: int, entry_bytes: int) -> dict:
    started = time.perf_counter()
    with CallLog() as log:
        payload = world.sweep(name, at)
    seconds = time.perf_counter() - started
    queries = [c for c in log.dynamodb() if c.operation == "Query"]
    read = log.items_read("Query")
    return {
        "due": due,
        "reported_due": payload["due"],
        "acted": payload["acted"],
        "skipped": payload["skipped"],
        "queries": len(queries),
        "items_read": read,
        "read_per_due": read / due if due else None,
        "read_units": _query_read_units(log.dynamodb(), entry_bytes),
        "transactions": log.ops().count("TransactWriteItems"),
        "seconds": seconds,
        "other_calls": sorted({c.label for c in log.dynamodb() if c.operation not in ("Query", "TransactWriteItems")}),
    }


def meter(world: World, at) -> dict:
    with CallLog() as log:
        payload = world.sweep("meter_usage", at)
    return {
        "calls": compact(log.labels()),
        "reads": len(log.reads()),
        "items_read": log.items_read(),
        "writes": len(log.writes()),
        "license_types": payload["due"],
    }


def run(devices: int = 20_000) -> dict:
    from chalicelib.store.models import DeviceItem

    result: dict = {"devices": devices}
    with World(T0) as world, stdout_captured():
        now = world.now
        tenant = world.new_tenant(
            "Fleet", capacity=len(SKUS) * (devices + 1000), skus=SKUS, type_capacity=devices + 1000
        )
        world.at(now - timedelta(days=2))
        template_device = world.activate(tenant)
        world.at(now - timedelta(minutes=30))
        world.check_in(template_device)
        world.at(now)
        template = raw_item(DeviceItem, template_device.device_id)
        silent_due = next(s for s in index_shapes(DeviceItem) if s.name == "silent-due")
        entry_bytes = item_size(silent_due.projected(template, table_keys(DeviceItem)))

        result["meter_before_fleet"] = meter(world, now - timedelta(hours=3))
        started = time.perf_counter()
        fleet = write_fleet(world, tenant, template, devices - 1)
        result["fleet_write_seconds"] = time.perf_counter() - started
        result["fleet"] = {**fleet.kinds, "template (through the app)": 1}
        result["meter_with_fleet"] = meter(world, now - timedelta(hours=2))
        world.new_tenant("More types", capacity=800, skus=tuple(f"VLM-{n}-SPLA" for n in range(8)))
        result["meter_with_8_more_types"] = meter(world, now - timedelta(hours=1))

        # Activations and check-ins at this fleet size: the same calls as in an empty table.
        world._devices = LM_OFFSET + devices + 10
        world.at(now - timedelta(minutes=10))
        activations, check_ins = Counter(), Counter()
        sample = []
        for i in range(10):
            with CallLog() as log:
                sample.append(world.activate(tenant, SKUS[i % len(SKUS)], confirm=False))
            activations[compact(log.labels())] += 1
            world.ok("POST", f"/v1/devices/{sample[-1].device_id}/confirm", headers=sample[-1].auth)
        world.at(now - timedelta(minutes=5))
        for _ in range(5):
            for device in sample:
                with CallLog() as log:
                    world.check_in(device)
                check_ins[compact(log.labels())] += 1
        world.at(now)
        result["activations_at_fleet"] = dict(activations)
        result["check_ins_at_fleet"] = dict(check_ins)

        items, total = table_bytes(DeviceItem)
        result["devices_table"] = {"items": items, "bytes": total}
        scan = scan_for_silent(now)
        scan["read_units"] = math.ceil(total / 4096) * 0.5
        result["scan"] = scan
        result["block_unconfirmed"] = sweep(world, "block_unconfirmed", now, fleet.pending_due, entry_bytes)
        result["deactivate_silent"] = sweep(world, "deactivate_silent", now, fleet.silent_due, entry_bytes)
        result["deactivate_silent_again"] = sweep(
            world, "deactivate_silent", now + timedelta(minutes=5), 0, entry_bytes
        )
        silent = result["deactivate_silent"]
        result["scan_vs_sweep_items"] = scan["items_read"] / max(silent["items_read"], 1)
        result["scan_vs_sweep_read_units"] = scan["read_units"] / max(silent["read_units"], 0.5)
    return result


def report(r: dict) -> list[str]:
    silent, pending, scan = r["deactivate_silent"], r["block_unconfirmed"], r["scan"]
    again = r["deactivate_silent_again"]
    met = silent["items_read"] <= 1.05 * silent["due"] and pending["items_read"] <= 1.05 * max(pending["due"], 0)
    lines = [
        f"fleet: {r['devices']} devices written in {r['fleet_write_seconds']:.1f} s ({r['fleet']}); devices table "
        f"{r['devices_table']['items']} items, {r['devices_table']['bytes'] / 1e6:.1f} MB",
        f"sweep deactivate_silent: {silent['items_read']} items read for {silent['due']} due "
        f"({silent['read_per_due']:.3f} per due) in {silent['queries']} queries, {silent['acted']} deactivated, "
        f"{silent['read_units']} RRU, {silent['seconds']:.1f} s",
        f"sweep block_unconfirmed: {pending['items_read']} items read for {pending['due']} due in "
        f"{pending['queries']} queries, {pending['acted']} blocked, {pending['seconds']:.1f} s",
        f"sweeps: target items read <= 1.05 x due (+ one query per shard): {'met' if met else 'missed'}; "
        f"a second deactivate_silent reads {again['items_read']} items in {again['queries']} queries",
        f"scan of devices (same run): {scan['items_read']} items read in {scan['pages']} pages, {scan['matched']} "
        f"silent, {scan['read_units']} RRU, {scan['seconds']:.1f} s -> {r['scan_vs_sweep_items']:.0f} x the "
        f"sweep's items, {r['scan_vs_sweep_read_units']:.0f} x its read units",
    ]
    m0, m1, m2 = r["meter_before_fleet"], r["meter_with_fleet"], r["meter_with_8_more_types"]
    same = (m0["items_read"], m0["reads"]) == (m1["items_read"], m1["reads"])
    lines.append(
        f"meter: {m0['items_read']} items read ({m0['calls']}) with 1 device; {m1['items_read']} with "
        f"{r['devices']} devices; {m2['items_read']} with 8 more license types "
        f"(independent of devices: {'met' if same else 'missed'}; "
        f"proportional to license types: {'met' if m2['items_read'] - m1['items_read'] == 8 else 'missed'})"
    )
    lines.append(
        f"at {r['devices']} devices: activations {r['activations_at_fleet']}; check-ins {r['check_ins_at_fleet']}"
    )
    return lines
