"""Check-in: DynamoDB calls per check-in, the device item's size, and the index writes a check-in
causes, amortised over simulated hours of check-ins at the default interval.

An index write is derived from consecutive versions of the device item (read outside the call
log after each check-in) with DynamoDB's rules for global secondary indexes: an entry is put or
deleted when the item enters or leaves the index (1 write), moved when an index key changes
(2 writes: delete and put), rewritten when only a projected attribute changes (1 write).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from bench.calls import CallLog
from bench.capture import stdout_captured
from bench.sizes import index_shapes, item_size, raw_item, table_keys, write_units
from bench.world import World

DEFAULT_INTERVAL_S = 3600


def one_check_in(world: World, device) -> CallLog:
    """The calls of one check-in of a confirmed device."""
    with CallLog() as log:
        world.check_in(device)
    return log


def largest_item(world: World, tenant_name: str = "Widest") -> int:
    """The device item's size after a check-in with every field at the longest the API accepts."""
    from chalicelib.store.models import DeviceItem

    sku = "S" * 64
    tenant = world.new_tenant(tenant_name, capacity=10, skus=(sku,))
    lm = world.next_loadmaster(
        sku, image=("X" * 250) + "SPLA.", version="9" * 64, ip="fedc:ba98:7654:3210:fedc:ba98:7654:3210", port=65535
    )
    device = world.activate(tenant, sku, lm=lm)
    world.check_in(device)
    return item_size(raw_item(DeviceItem, device.device_id))


KEY_REFRESH = ("secretsmanager:GetSecretValue",)


def simulate(world: World, *, hours: int = 48, devices: int = 12, interval_s: int = DEFAULT_INTERVAL_S) -> dict:
    """``devices`` LoadMasters, their check-ins spread over the interval, each checking in every
    ``interval_s`` for ``hours``: calls, sizes and index writes per check-in."""
    from chalicelib.store.models import DeviceItem

    start = world.now
    tenant = world.new_tenant("Hourly", capacity=devices + 10)
    fleet = [world.activate(tenant) for _ in range(devices)]
    shapes, keys = index_shapes(DeviceItem), table_keys(DeviceItem)
    previous = {d.device_id: raw_item(DeviceItem, d.device_id) for d in fleet}

    sequences: Counter[tuple[str, ...]] = Counter()
    other_services: Counter[str] = Counter()
    index_writes: Counter[str] = Counter()
    key_moves: Counter[str] = Counter()
    table_wru = sizes_max = response_bytes = check_ins = 0
    log_bytes = 0
    steps = sorted(
        (start + timedelta(seconds=interval_s * (h + 1) + i * interval_s // devices), i)
        for h in range(int(hours * 3600 // interval_s))
        for i in range(devices)
    )
    for at, i in steps:
        device = fleet[i]
        world.at(at)
        with stdout_captured() as out, CallLog() as log:
            reply = world.check_in(device)
        log_bytes += out.bytes
        response_bytes += reply.size
        sequences[tuple(log.labels())] += 1
        other_services.update(log.other_services())
        new = raw_item(DeviceItem, device.device_id)
        old = previous[device.device_id]
        for shape in shapes:
            index_writes[shape.name] += shape.writes(old, new, keys)
            if shape.holds(old) and shape.holds(new) and shape.key(old) != shape.key(new):
                key_moves[shape.name] += 1
        size = max(item_size(old), item_size(new))
        table_wru += write_units(size)
        sizes_max = max(sizes_max, item_size(new))
        previous[device.device_id] = new
        check_ins += 1
    world.at(start)
    return {
        "devices": devices,
        "hours": hours,
        "interval_s": interval_s,
        "check_ins": check_ins,
        "call_sequences": {" + ".join(k): v for k, v in sequences.items()},
        "dynamodb_calls_per_check_in": sum(len(k) * v for k, v in sequences.items()) / check_ins,
        "reads_per_check_in": sum(
            sum(1 for c in k if c.startswith(("Get", "Query", "Scan", "BatchGet"))) * v for k, v in sequences.items()
        )
        / check_ins,
        # The key ring's refresh (once per SIGNING_KEY_TTL_S per container) is a cost of the
        # container's time, not of its check-ins: this run's one container sees every check-in,
        # spaced minutes apart, so it is reported per hour, as bench/cost prices it.
        "other_aws_calls": {k: v for k, v in other_services.items() if k not in KEY_REFRESH},
        "key_refreshes_per_container_hour": sum(other_services[k] for k in KEY_REFRESH) / hours,
        "item_bytes": sizes_max,
        "table_wru_per_check_in": table_wru / check_ins,
        "index_writes_per_check_in": {s.name: index_writes[s.name] / check_ins for s in shapes},
        "index_key_moves_per_check_in": {s.name: key_moves[s.name] / check_ins for s in shapes},
        "log_bytes_per_check_in": log_bytes / check_ins,
        "response_bytes_per_check_in": response_bytes / check_ins,
    }


def stored_bytes(tenant, device) -> dict:
    """What one device keeps in DynamoDB: its item, its index entries, its two claims."""
    from chalicelib.store import devices as device_store
    from chalicelib.store.models import ClaimItem, DeviceItem

    item = raw_item(DeviceItem, device.device_id)
    keys = table_keys(DeviceItem)
    entries = {s.name: item_size(s.projected(item, keys)) for s in index_shapes(DeviceItem) if s.holds(item)}
    mac = raw_item(ClaimItem, device_store.mac_claim(tenant.tenant_id, device.lm["mac"]))
    return {"device_item": item_size(item), "index_entries": entries, "claims": 2 * item_size(mac)}


def run(*, hours: int = 48, devices: int = 12) -> dict:
    from chalicelib.settings import get_settings

    with World() as world, stdout_captured():
        tenant = world.new_tenant("Single", capacity=10)
        device = world.activate(tenant)
        single = one_check_in(world, device)
        stored = stored_bytes(tenant, device)
        widest = largest_item(world)
        simulated = simulate(world, hours=hours, devices=devices)
    return {
        "one_check_in": single.labels(),
        "one_check_in_other_aws_calls": single.other_services(),
        "item_bytes_longest_fields": widest,
        "stored_bytes": stored,
        "silent_bucket_s": get_settings().silent_bucket_s,
        **simulated,
    }


def report(r: dict) -> list[str]:
    due = r["index_writes_per_check_in"].get("silent-due", 0.0)
    moves = r["index_key_moves_per_check_in"].get("silent-due", 0.0)
    return [
        f"check-in: one check-in = {' + '.join(r['one_check_in'])}; other AWS calls: "
        f"{r['one_check_in_other_aws_calls'] or 'none'}",
        f"check-in: {r['check_ins']} check-ins ({r['devices']} devices x {r['hours']} h at {r['interval_s']} s): "
        f"{r['dynamodb_calls_per_check_in']:.2f} DynamoDB calls and {r['reads_per_check_in']:.2f} reads per "
        f"check-in; sequences {r['call_sequences']}",
        f"check-in: item {r['item_bytes']} B (longest accepted fields: {r['item_bytes_longest_fields']} B); "
        f"table WRU per check-in {r['table_wru_per_check_in']:.2f}",
        "check-in: index writes per check-in "
        + ", ".join(f"{k} {v:.4f}" for k, v in r["index_writes_per_check_in"].items())
        + f" (silent-due entry moved on {moves:.4f} of check-ins, SILENT_BUCKET_S={r['silent_bucket_s']}; "
        f"target <= 0.1: {'met' if due <= 0.1 else 'missed'} counting write units, "
        f"{'met' if moves <= 0.1 else 'missed'} counting entry rewrites)",
        f"check-in: {r['log_bytes_per_check_in']:.0f} B of log/EMF lines and {r['response_bytes_per_check_in']:.0f} B "
        f"of response body per check-in",
    ]
