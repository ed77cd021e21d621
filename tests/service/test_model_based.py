"""A property-based model test: random sequences of activations, confirms, check-ins,
deactivations, deletes, unblocks, sweeps and the passing of time, compared step by step with a
plain in-memory model of the rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from chalice.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from moto import mock_aws

from chalicelib import clock
from chalicelib.security.signing import reset_key_ring
from chalicelib.settings import get_settings
from chalicelib.store import create_tables
from tests.conftest import LM, T0, Api, operator_headers, scheduled_event

CAPACITY = 3
MACS = 4
CONFIRM_WINDOW = 86400
SILENT_AFTER = 86400


@dataclass
class ModelDevice:
    device_id: str
    token: str
    mac: int
    status: str
    confirm_by: float
    silent_due: float


def silent_due(at: float) -> float:
    """The documented rule: the silent deadline, rounded up to its bucket."""
    width = get_settings().silent_bucket_s
    return math.ceil(at / width) * width + SILENT_AFTER


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
        created = self.api.post("/v1/tenants", {"name": "Model", "owner_email": "m@model.example"},
                                headers=operator_headers()).body
        self.api.post(f"/v1/tenants/{created['tenant_id']}/contracts",
                      {"contract_id": "M", "capacity": CAPACITY, "starts_at": "2026-01-01T00:00:00Z"},
                      headers=operator_headers())
        self.admin = {"Authorization": f"Bearer {created['api_key']}"}
        self.loadmaster = {"X-Activation-Key": created["activation_key"]}
        self.lic_type_id = self.api.post("/v1/license-types", {"name": "M", "sku": "VLM-MAX-SPLA",
                                                               "capacity": CAPACITY}, headers=self.admin).body[
            "lic_type_id"]
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

    def _lm(self, mac: int) -> dict:
        return {**LM, "mac": f"00:50:56:00:50:{mac:02x}", "ip": f"10.50.0.{mac}"}

    def _refusal(self, code: str) -> str:
        minute = int(self.now.timestamp()) // 60
        if self.refused_per_minute.get(minute, 0) >= get_settings().refusals_per_key_per_minute:
            return "RATE_LIMITED"
        self.refused_per_minute[minute] = self.refused_per_minute.get(minute, 0) + 1
        return code

    # -- rules ---------------------------------------------------------------------------------

    @rule(mac=st.integers(0, MACS - 1))
    def activate(self, mac: int) -> None:
        reply = self.api.post("/v1/activations", {**self._lm(mac), "lic_type_id": self.lic_type_id},
                              headers=self.loadmaster)
        existing = self._of_mac(mac)
        hour = (mac, int(self.now.timestamp()) // 3600)
        if existing is not None and existing.status == "BLOCKED":
            assert reply.code == self._refusal("DEVICE_BLOCKED"), reply.body
        elif existing is not None:
            assert reply.status == 201 and reply.body["device_id"] == existing.device_id, reply.body
        elif self.granted_per_mac_hour.get(hour, 0) >= get_settings().activations_per_mac_per_hour:
            assert reply.code == "RATE_LIMITED", reply.body
        elif len(self._holding()) >= CAPACITY:
            assert reply.code == self._refusal("INSTANCE_LIMIT_REACHED"), reply.body
        else:
            assert reply.status == 201, reply.body
            at = self.now.timestamp()
            self.devices.append(ModelDevice(reply.body["device_id"], reply.body["device_token"], mac, "PENDING",
                                            at + CONFIRM_WINDOW, silent_due(at)))
            self.granted_per_mac_hour[hour] = self.granted_per_mac_hour.get(hour, 0) + 1

    def _device_call(self, device: ModelDevice, path: str):
        body = {k: self._lm(device.mac)[k] for k in ("mac", "ip", "port", "version")}
        return self.api.post(f"/v1/devices/{device.device_id}/{path}", body,
                             headers={"Authorization": f"Device {device.token}"})

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
    @rule(data=st.data())
    def check_in(self, data) -> None:
        device = data.draw(st.sampled_from(self.devices + self.deleted))
        reply = self._device_call(device, "check-ins")
        if device in self.deleted:
            assert reply.code == "UNKNOWN_DEVICE"
        elif device.status in ("PENDING", "ACTIVE"):
            assert reply.status == 200, reply.body
            device.silent_due = silent_due(self.now.timestamp())
        else:
            assert reply.status == {"BLOCKED": 403, "DEACTIVATED": 410}[device.status], reply.body

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
            if d.status in ("PENDING", "ACTIVE") and d.silent_due <= self.now.timestamp():
                d.status = "DEACTIVATED"

    # -- after every step ------------------------------------------------------------------------

    @invariant()
    def the_service_agrees_with_the_model(self) -> None:
        if not hasattr(self, "api"):
            return
        listed = {}
        cursor = None
        while True:
            page = self.api.get("/v1/devices?limit=100" + (f"&next={cursor}" if cursor else ""),
                                headers=self.admin).body
            listed |= {d["device_id"]: d["status"] for d in page["devices"]}
            cursor = page["next"]
            if not cursor:
                break
        assert listed == {d.device_id: d.status for d in self.devices}
        pool = self.api.get(f"/v1/license-types/{self.lic_type_id}", headers=self.admin).body
        assert pool["in_use"] == len(self._holding()) <= CAPACITY


TestLicensing = Licensing.TestCase
TestLicensing.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])
