"""The pure rules: guard order, states, keys and signatures, with no AWS at all."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import Code
from chalicelib.domain.licensing import (
    DeviceVerdict,
    ExistingLicense,
    LoadMaster,
    activation_refusal,
    device_verdict,
    is_spla_image,
    verdict_error,
)
from chalicelib.domain.model import Contract, Device, DeviceStatus, LicenseType, Tenant, TenantState
from chalicelib.security import keys, signing

NOW = datetime(2026, 11, 28, 20, tzinfo=UTC)
LM = LoadMaster("00:50:56:aa:bb:01", "10.0.0.5", 443, "VLM-MAX-SPLA", "LM-SPLA.ova", "7.2.47")


def _tenant(state: TenantState, **kw) -> Tenant:
    return Tenant("t1", "Acme", "a@b.example", state, NOW, **kw)


TYPE = LicenseType("t1", "lt1", "Max", "VLM-MAX-SPLA", 5, 0)


def _decide(tenant: Tenant, lm: LoadMaster = LM, **facts) -> Code | None:
    """The one licensing decision for ``tenant`` as of NOW, with nothing else wrong unless said."""
    facts = {"mac_blocked": lambda: False, "types": lambda: [TYPE], **facts}
    error = activation_refusal(tenant.effective_state(NOW), lm, **facts)
    return None if error is None else error.code


@pytest.mark.parametrize(
    "tenant, code",
    [
        (_tenant(TenantState.UNLICENSED), Code.CENTRAL_UNLICENSED),
        (_tenant(TenantState.TERMINATED), Code.CENTRAL_UNLICENSED),
        (_tenant(TenantState.EXPIRED), Code.TRIAL_EXPIRED),
        (_tenant(TenantState.TRIAL, trial_expires_at=NOW), Code.TRIAL_EXPIRED),
        (_tenant(TenantState.TRIAL, trial_expires_at=NOW + timedelta(seconds=1)), None),
        (_tenant(TenantState.LICENSED, contract_ends_at=NOW), Code.CENTRAL_UNLICENSED),
        (_tenant(TenantState.LICENSED), None),
    ],
)
def test_tenant_guards(tenant, code):
    assert _decide(tenant) == code


def test_trial_conflict_only_for_an_active_license_from_elsewhere():
    trial = _tenant(TenantState.TRIAL, trial_expires_at=NOW + timedelta(days=1))
    elsewhere = LoadMaster(**{**LM.__dict__, "existing_license": ExistingLicense("x", True)})
    inactive = LoadMaster(**{**LM.__dict__, "existing_license": ExistingLicense("x", False)})

    assert _decide(trial, elsewhere) == Code.TRIAL_CONFLICT
    assert _decide(trial, inactive) is None
    assert _decide(_tenant(TenantState.LICENSED), elsewhere) is None


def test_unlicensed_is_checked_before_trial_conflict():
    elsewhere = LoadMaster(**{**LM.__dict__, "existing_license": ExistingLicense("x", True)})

    assert _decide(_tenant(TenantState.UNLICENSED), elsewhere) == Code.CENTRAL_UNLICENSED


def test_the_contracts_order_when_everything_is_wrong_at_once():
    # Given a LoadMaster for which every refusal applies, each fact is removed in turn, in the
    # contract's order, and the next refusal is the answer.
    licensed = _tenant(TenantState.LICENSED)
    plain = LoadMaster(**{**LM.__dict__, "image": "plain.ova", "sku": "OTHER"})
    everything = {"mac_blocked": lambda: True, "lic_type_id": "nope", "address_taken": True, "no_instance": True}
    ladder = [
        (_tenant(TenantState.UNLICENSED), plain, everything, Code.CENTRAL_UNLICENSED),
        (_tenant(TenantState.EXPIRED), plain, everything, Code.TRIAL_EXPIRED),
        (licensed, plain, everything, Code.DEVICE_BLOCKED),
        (licensed, plain, {**everything, "mac_blocked": lambda: False}, Code.NO_LOCAL_LICENSE),
        (
            licensed,
            LoadMaster(**{**LM.__dict__, "sku": "OTHER"}),
            {**everything, "mac_blocked": lambda: False},
            Code.NO_LICENSE_FOR_SKU,
        ),
        (licensed, LM, {**everything, "mac_blocked": lambda: False}, Code.INVALID_LICENSE_TYPE),
        (licensed, LM, {**everything, "mac_blocked": lambda: False, "lic_type_id": "lt1"}, Code.DUPLICATE_ADDRESS),
        (licensed, LM, {"lic_type_id": "lt1", "no_instance": True}, Code.INSTANCE_LIMIT_REACHED),
        (licensed, LM, {"lic_type_id": "lt1"}, None),
    ]
    for tenant, lm, facts, code in ladder:
        assert _decide(tenant, lm, **facts) == code, (tenant.state, facts)


def test_a_race_that_finds_the_tenant_unlicensed_says_so_before_the_taken_address():
    # The transaction failed on the tenant (terminated meanwhile) and on the address at once.
    assert _decide(_tenant(TenantState.TERMINATED), address_taken=True, no_instance=True) == Code.CENTRAL_UNLICENSED


def test_facts_are_read_only_when_the_order_gets_to_them():
    read = []

    def types():
        read.append("types")
        return [TYPE]

    _decide(_tenant(TenantState.UNLICENSED), types=types, mac_blocked=lambda: read.append("mac") or False)

    assert read == []


@pytest.mark.parametrize(
    "image, spla",
    [("LoadMaster-VLM-7.2.47-SPLA.ova", True), ("lm-spla.vhd", True), ("LoadMaster-VLM-7.2.47.ova", False)],
)
def test_spla_image(image, spla):
    assert is_spla_image(image) is spla


def test_no_type_for_sku_names_the_sku():
    error = activation_refusal(
        TenantState.LICENSED,
        LoadMaster(**{**LM.__dict__, "sku": "VLM-200-SPLA"}),
        mac_blocked=lambda: False,
        types=lambda: [TYPE],
    )

    assert error.message == "No License configured for LM SKU VLM-200-SPLA."


def _device(**kw) -> Device:
    base = {
        "device_id": "d1",
        "tenant_id": "t1",
        "mac": "00:50:56:aa:bb:01",
        "ip": "10.0.0.5",
        "port": 443,
        "sku": "VLM-MAX-SPLA",
        "image": "x-SPLA.ova",
        "version": "7",
        "lic_type_id": "lt1",
        "status": DeviceStatus.ACTIVE,
        "activated_at": NOW,
        "confirm_by": NOW,
        "credential_version": 2,
    }
    return Device(**{**base, **kw})


@pytest.mark.parametrize(
    "device, tenant_id, version, mac, verdict",
    [
        (None, "t1", 2, "00:50:56:aa:bb:01", DeviceVerdict.UNKNOWN),
        (_device(), "t2", 2, "00:50:56:aa:bb:01", DeviceVerdict.UNKNOWN),
        (_device(status=DeviceStatus.BLOCKED), "t1", 1, "00:50:56:aa:bb:02", DeviceVerdict.REVOKED),
        (_device(status=DeviceStatus.BLOCKED), "t1", 2, "00:50:56:aa:bb:02", DeviceVerdict.CLONE),
        (_device(status=DeviceStatus.BLOCKED), "t1", 2, "00:50:56:aa:bb:01", DeviceVerdict.BLOCKED),
        (_device(status=DeviceStatus.DEACTIVATED), "t1", 2, "00:50:56:aa:bb:01", DeviceVerdict.DEACTIVATED),
        (_device(status=DeviceStatus.PENDING), "t1", 2, "00:50:56:aa:bb:01", DeviceVerdict.HOLDING),
        (_device(), "t1", 2, None, DeviceVerdict.HOLDING),
    ],
)
def test_the_device_status_ladder(device, tenant_id, version, mac, verdict):
    assert device_verdict(device, tenant_id=tenant_id, credential_version=version, mac=mac) == verdict


def test_verdict_errors_are_the_seeds():
    assert verdict_error(DeviceVerdict.UNKNOWN, "00:50:56:aa:bb:09").message.endswith("with MAC 00:50:56:aa:bb:09.")
    assert verdict_error(DeviceVerdict.CLONE, "x").code == Code.VERIFY_FAILED
    assert verdict_error(DeviceVerdict.REVOKED, "x").code == Code.VERIFY_FAILED
    assert verdict_error(DeviceVerdict.BLOCKED, "x").code == Code.DEVICE_BLOCKED
    assert verdict_error(DeviceVerdict.DEACTIVATED, "x").code == Code.DEVICE_DEACTIVATED


def test_a_contract_sold_to_start_later_licenses_from_its_start():
    contract = Contract("C-2", 10, NOW + timedelta(days=1))
    trial = _tenant(TenantState.TRIAL, trial_expires_at=NOW + timedelta(days=30), next_contract=contract)

    assert trial.effective_state(NOW) == TenantState.TRIAL
    assert trial.effective_state(NOW + timedelta(days=1)) == TenantState.LICENSED
    terminated = _tenant(TenantState.TERMINATED, next_contract=contract)
    assert terminated.effective_state(NOW + timedelta(days=2)) == TenantState.TERMINATED


def test_keys_name_their_tenant_and_match_only_their_hash():
    issued = keys.issue_key(keys.KeyKind.API, "t123")

    assert keys.tenant_of(issued.plaintext, keys.KeyKind.API) == "t123"
    assert keys.tenant_of(issued.plaintext, keys.KeyKind.ACTIVATION) is None
    assert keys.matches(issued.plaintext, issued.sha256)
    assert not keys.matches(issued.plaintext + "x", issued.sha256)
    assert not keys.matches(issued.plaintext, "")


def test_signed_tokens_verify_only_with_their_kind_and_key():
    ring = signing.parse_secret(signing.new_secret_value("k1"))
    other = signing.parse_secret(signing.new_secret_value("k1"))
    token = ring.sign({"sub": "d1"}, "device+jwt")

    assert ring.verify(token, "device+jwt") == {"sub": "d1"}
    for check in (
        lambda: ring.verify(token, "JWT"),
        lambda: other.verify(token, "device+jwt"),
        lambda: ring.verify(token + "x", "device+jwt"),
        lambda: ring.verify("a.b", "device+jwt"),
    ):
        with pytest.raises(signing.InvalidToken):
            check()
