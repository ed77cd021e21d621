"""A property-based model test: random sequences of activations, confirms, check-ins (from the
device's address, from a new one, from a clone), deactivations, deletes, unblocks, pool resizes,
renewals, terminations, sweeps and the passing of time, compared step by step with a plain
in-memory model of the rules, and recounted from the raw items after every step: the pool and the
tenant count exactly the holding devices, the pools fit the contract, the claims are exactly the
holding (and blocked) devices'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from moto import mock_aws

from chalicelib import clock
from chalicelib.security.signing import reset_key_ring
from chalicelib.settings import get_settings
from chalicelib.store import create_tables
from chalicelib.store.models import ClaimItem, TenantItem
from local.schedules import Client
from tests.conftest import LM, T0, Api, operator_headers, scheduled_event

CAPACITY = 3
MACS = 4
CLONE_MAC = "00:50:56:00:ee:ee"
CONFIRM_WINDOW = 86400
SILENT_AFTER = 86400


@dataclass
class ModelDevice:
    device_id: str
    token: str
    mac: int
    status: str
    confirm_by: float
    silent_at: float
    moved: bool = False  # checked in from its second address


def silent_at(at: float) -> float:
    """The documented rule: deactivated once silent for SILENT_AFTER, to the second."""
    return at + SILENT_AFTER


class Licensing(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        reset_key_ring()
        create_tables()
        self.now = T0
        clock.set_now(self.now)
        from app import app

        self.client = Client(app, stage_name="dev")
        self.api = Api(self.client)
        created = self.api.post(
            "/v1/tenants", {"name": "Model", "owner_email": "m@model.example"}, headers=operator_headers()
        ).body
        self.api.post(
            f"/v1/tenants/{created['tenant_id']}/contracts",
            {"contract_id": "M", "capacity": CAPACITY, "starts_at": "2026-01-01T00:00:00Z"},
            headers=operator_headers(),
        )
        self.admin = {"Authorization": f"Bearer {created['api_key']}"}
        self.loadmaster = {"X-Activation-Key": created["activation_key"]}
        self.lic_type_id = self.api.post(
            "/v1/license-types", {"name": "M", "sku": "VLM-MAX-SPLA", "capacity": CAPACITY}, headers=self.admin
        ).body["lic_type_id"]
        self.tenant_id = created["tenant_id"]
        self.contract = CAPACITY
        self.pool = CAPACITY
        self.terminated = False
        self.devices: list[ModelDevice] = []  # every device ever granted, deleted ones removed
        self.deleted: list[ModelDevice] = []
        self.granted_per_mac_hour: dict[tuple[int, int], int] = {}
        self.refused_per_minute: dict[int, int] = {}

    def teardown(self) -> None:
        clock.set_now(None)
        self.mock.stop()

    # -- the model's view --------------------------------------------------------------------

    def _holding(self) -> list[ModelDevice]:
        return [d for d in self.devices if d.status in ("PENDING", "ACTIVE")]

    def _of_mac(self, mac: int) -> ModelDevice | None:
        held = [d for d in self.devices if d.mac == mac and d.status in ("PENDING", "ACTIVE", "BLOCKED")]
        return held[0] if held else None

    def _lm(self, mac: int, moved: bool = False) -> dict:
        return {**LM, "mac": f"00:50:56:00:50:{mac:02x}", "ip": f"10.{51 if moved else 50}.0.{mac}"}

    def _refusal(self, code: str) -> str:
        minute = int(self.now.timestamp()) // 60
        if self.refused_per_minute.get(minute, 0) >= get_settings().refusals_per_key_per_minute:
            return "RATE_LIMITED"
        self.refused_per_minute[minute] = self.refused_per_minute.get(minute, 0) + 1
        return code

    # -- rules ---------------------------------------------------------------------------------

    @rule(mac=st.integers(0, MACS - 1))
    def activate(self, mac: int) -> None:
        reply = self.api.post(
            "/v1/activations", {**self._lm(mac), "lic_type_id": self.lic_type_id}, headers=self.loadmaster
        )
        existing = self._of_mac(mac)
        hour = (mac, int(self.now.timestamp()) // 3600)
        if self.terminated:
            assert reply.code == self._refusal("CENTRAL_UNLICENSED"), reply.body
        elif existing is not None and existing.status == "BLOCKED":
            assert reply.code == self._refusal("DEVICE_BLOCKED"), reply.body
        elif existing is not None:
            assert reply.status == 201 and reply.body["device_id"] == existing.device_id, reply.body
        elif self.granted_per_mac_hour.get(hour, 0) >= get_settings().activations_per_mac_per_hour:
            assert reply.code == "RATE_LIMITED", reply.body
        elif len(self._holding()) >= self.pool:
            assert reply.code == self._refusal("INSTANCE_LIMIT_REACHED"), reply.body
        else:
            assert reply.status == 201, reply.body
            at = self.now.timestamp()
            self.devices.append(
                ModelDevice(
                    reply.body["device_id"],
                    reply.body["device_token"],
                    mac,
                    "PENDING",
                    at + CONFIRM_WINDOW,
                    silent_at(at),
                )
            )
            self.granted_per_mac_hour[hour] = self.granted_per_mac_hour.get(hour, 0) + 1

    def _device_call(self, device: ModelDevice, path: str, *, moved: bool | None = None, mac: str | None = None):
        body = {
            k: self._lm(device.mac, device.moved if moved is None else moved)[k]
            for k in ("mac", "ip", "port", "version")
        }
        if mac is not None:
            body["mac"] = mac
        return self.api.post(
            f"/v1/devices/{device.device_id}/{path}", body, headers={"Authorization": f"Device {device.token}"}
        )

    @precondition(lambda self: self.devices or self.deleted)
    @rule(data=st.data())
    def confirm(self, data) -> None:
        device = data.draw(st.sampled_from(self.devices + self.deleted))
        reply = self._device_call(device, "confirm")
        if device in self.deleted:
            assert reply.code == "UNKNOWN_DEVICE"
        elif device.status == "PENDING" and self.now.timestamp() < device.confirm_by:
            assert reply.status == 200 and reply.body["status"] == "ACTIVE"
            device.status = "ACTIVE"
        elif device.status == "PENDING":
            assert reply.code == "DEVICE_BLOCKED"  # confirming late blocks it
            device.status = "BLOCKED"
        else:
            expected = {"ACTIVE": 200, "BLOCKED": 403, "DEACTIVATED": 410}[device.status]
            assert reply.status == expected, reply.body

    @precondition(lambda self: self.devices or self.deleted)
    @rule(data=st.data(), move=st.booleans())
    def check_in(self, data, move: bool) -> None:
        """A check-in, from the device's address or (``move``) from its other one."""
        device = data.draw(st.sampled_from(self.devices + self.deleted))
        reply = self._device_call(device, "check-ins", moved=device.moved != move)
        if device in self.deleted:
            assert reply.code == "UNKNOWN_DEVICE"
        elif device.status in ("PENDING", "ACTIVE"):
            assert reply.status == 200, reply.body
            device.silent_at = silent_at(self.now.timestamp())
            device.moved = device.moved != move
        else:
            assert reply.status == {"BLOCKED": 403, "DEACTIVATED": 410}[device.status], reply.body

    @precondition(lambda self: self.devices or self.deleted)
    @rule(data=st.data())
    def clone_checks_in(self, data) -> None:
        """Another LoadMaster presents a device's token: refused, nothing changes."""
        device = data.draw(st.sampled_from(self.devices + self.deleted))
        reply = self._device_call(device, "check-ins", mac=CLONE_MAC)
        assert reply.code == ("UNKNOWN_DEVICE" if device in self.deleted else "VERIFY_FAILED"), reply.body

    @rule(capacity=st.integers(0, CAPACITY + 2))
    def resize_pool(self, capacity: int) -> None:
        reply = self.api.patch(f"/v1/license-types/{self.lic_type_id}", {"capacity": capacity}, headers=self.admin)
        fits = capacity <= self.contract or capacity <= self.pool
        if capacity >= len(self._holding()) and fits:
            assert reply.status == 200, reply.body
            self.pool = capacity
        else:
            assert reply.code == "CONFLICT", reply.body

    @rule(capacity=st.integers(1, CAPACITY + 2))
    def renew(self, capacity: int) -> None:
        """A renewal (of a terminated tenant too), to more or fewer instances."""
        reply = self.api.post(
            f"/v1/tenants/{self.tenant_id}/contracts",
            {"contract_id": f"M-{capacity}", "capacity": capacity, "starts_at": "2026-01-01T00:00:00Z"},
            headers=operator_headers(),
        )
        if capacity < len(self._holding()):
            assert reply.code == "CONFLICT", reply.body
            return
        assert reply.status == 201, reply.body
        self.contract, self.terminated = capacity, False
        if self.pool > capacity:
            self.pool = len(self._holding())  # the pool shrinks to what it holds

    @rule()
    def terminate(self) -> None:
        reply = self.api.post(f"/v1/tenants/{self.tenant_id}/terminate", headers=operator_headers())
        assert reply.status == 200, reply.body
        assert reply.body["devices_deactivated"] == len(self._holding())
        for d in self._holding():
            d.status = "DEACTIVATED"
        self.terminated = True

    @precondition(lambda self: self.devices)
    @rule(data=st.data())
    def deactivate(self, data) -> None:
        device = data.draw(st.sampled_from(self.devices))
        reply = self._device_call(device, "deactivate")
        if device.status == "BLOCKED":
            assert reply.code == "DEVICE_BLOCKED"
        else:
            assert reply.status == 200 and reply.body["status"] == "DEACTIVATED", reply.body
            device.status = "DEACTIVATED"

    @precondition(lambda self: self.devices)
    @rule(data=st.data())
    def delete(self, data) -> None:
        device = data.draw(st.sampled_from(self.devices))
        reply = self.api.delete(f"/v1/devices/{device.device_id}", headers=self.admin)
        assert reply.status == 200, reply.body
        self.devices.remove(device)
        self.deleted.append(device)

    @precondition(lambda self: self.devices)
    @rule(data=st.data())
    def unblock(self, data) -> None:
        device = data.draw(st.sampled_from(self.devices))
        reply = self.api.post(f"/v1/devices/{device.device_id}/unblock", headers=self.admin)
        if device.status == "BLOCKED":
            assert reply.status == 200
            device.status = "DEACTIVATED"
        else:
            assert reply.code == "CONFLICT"

    @rule(minutes=st.sampled_from([1, 59, 600, 1441, 2900]))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        clock.set_now(self.now)

    @rule()
    def block_unconfirmed(self) -> None:
        self.client.lambda_.invoke("block_unconfirmed", scheduled_event(self.now))
        for d in self.devices:
            if d.status == "PENDING" and d.confirm_by <= self.now.timestamp():
                d.status = "BLOCKED"

    @rule()
    def deactivate_silent(self) -> None:
        self.client.lambda_.invoke("deactivate_silent", scheduled_event(self.now))
        for d in self.devices:
            if d.status in ("PENDING", "ACTIVE") and d.silent_at <= self.now.timestamp():
                d.status = "DEACTIVATED"

    # -- after every step ------------------------------------------------------------------------

    @invariant()
    def the_service_agrees_with_the_model(self) -> None:
        if not hasattr(self, "api"):
            return
        listed = {}
        cursor = None
        while True:
            page = self.api.get(
                "/v1/devices?limit=100" + (f"&next={cursor}" if cursor else ""), headers=self.admin
            ).body
            listed |= {d["device_id"]: d["status"] for d in page["devices"]}
            cursor = page["next"]
            if not cursor:
                break
        assert listed == {d.device_id: d.status for d in self.devices}
        pool = self.api.get(f"/v1/license-types/{self.lic_type_id}", headers=self.admin).body
        holding = self._holding()
        assert (pool["in_use"], pool["capacity"]) == (len(holding), self.pool)
        # Recounted from the raw items: the tenant's counter and totals, and every claim.
        tenant = TenantItem.get(self.tenant_id)
        assert (int(tenant.in_use), int(tenant.capacity)) == (len(holding), self.contract)
        assert int(tenant.allocated) == self.pool <= self.contract  # invariant 7
        claims = {
            (c.claim.split("#")[0], c.claim.split("#", 2)[2], c.device_id)
            for c in ClaimItem.scan(ClaimItem.tenant_id == self.tenant_id)
            if not c.claim.startswith("idem#")
        }
        expected = {
            ("mac", self._lm(d.mac)["mac"], d.device_id)
            for d in self.devices
            if d.status in ("PENDING", "ACTIVE", "BLOCKED")
        }
        expected |= {("addr", f"{self._lm(d.mac, d.moved)['ip']}:443", d.device_id) for d in holding}
        assert claims == expected


TestLicensing = Licensing.TestCase
TestLicensing.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
