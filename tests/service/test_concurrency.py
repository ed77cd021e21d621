"""Invariant 1 under contention: many LoadMasters racing for a few instances."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from tests.conftest import first_type_id, lm


def test_twenty_four_loadmasters_racing_for_five_instances_get_exactly_five(
    api, trial_tenant, atomic_moto, threaded_app
):
    lic_type_id = first_type_id(api, trial_tenant)
    racers = 24
    start = Barrier(racers)

    def race(n: int):
        start.wait()
        body = {**lm(mac=f"00:50:56:00:01:{n:02x}", ip=f"10.1.0.{n}"), "lic_type_id": lic_type_id}
        return api.post("/v1/activations", body, headers=trial_tenant.loadmaster)

    with ThreadPoolExecutor(racers) as pool:
        replies = list(pool.map(race, range(racers)))

    granted = [r for r in replies if r.status == 201]
    refused = [r for r in replies if r.status != 201]
    assert len(granted) == 5
    assert len({r.body["device_id"] for r in granted}) == 5
    assert {r.code for r in refused} == {"INSTANCE_LIMIT_REACHED"}
    [pool] = api.get("/v1/license-types", headers=trial_tenant.admin).body["license_types"]
    assert pool["in_use"] == 5
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 5


def test_one_loadmaster_retrying_in_parallel_gets_one_device(api, trial_tenant, atomic_moto, threaded_app):
    lic_type_id = first_type_id(api, trial_tenant)
    racers = 12
    start = Barrier(racers)

    def retry(_):
        start.wait()
        return api.post("/v1/activations", {**lm(), "lic_type_id": lic_type_id}, headers=trial_tenant.loadmaster)

    with ThreadPoolExecutor(racers) as pool:
        replies = list(pool.map(retry, range(racers)))

    assert {r.status for r in replies} == {201}
    assert len({r.body["device_id"] for r in replies}) == 1
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 1


def test_racing_loadmasters_on_one_address_get_one_license(api, trial_tenant, atomic_moto, threaded_app):
    lic_type_id = first_type_id(api, trial_tenant)
    racers = 10
    start = Barrier(racers)

    def race(n: int):
        start.wait()
        body = {**lm(mac=f"00:50:56:00:02:{n:02x}"), "lic_type_id": lic_type_id}
        return api.post("/v1/activations", body, headers=trial_tenant.loadmaster)

    with ThreadPoolExecutor(racers) as pool:
        replies = list(pool.map(race, range(racers)))

    assert sorted(r.status for r in replies) == [201] + [409] * (racers - 1)
    assert {r.code for r in replies if r.status == 409} == {"DUPLICATE_ADDRESS"}
    assert api.get("/v1/license", headers=trial_tenant.admin).body["in_use"] == 1
