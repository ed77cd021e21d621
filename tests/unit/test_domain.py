"""The pure rules: guard order, states, keys and signatures, with no AWS at all."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import Code, DomainError
from chalicelib.domain.licensing import ExistingLicense, LoadMaster, is_spla_image, tenant_may_license, types_for_sku
from chalicelib.domain.model import LicenseType, Tenant, TenantState
from chalicelib.security import keys, signing

NOW = datetime(2026, 11, 28, 20, tzinfo=UTC)
LM = LoadMaster("00:50:56:aa:bb:01", "10.0.0.5", 443, "VLM-MAX-SPLA", "LM-SPLA.ova", "7.2.47")


def _tenant(state: TenantState, **kw) -> Tenant:
    return Tenant("t1", "Acme", "a@b.example", state, NOW, **kw)


def _code(fn, *args) -> Code | None:
    try:
        fn(*args)
    except DomainError as e:
        return e.code
    return None


@pytest.mark.parametrize("tenant, code", [
    (_tenant(TenantState.UNLICENSED), Code.CENTRAL_UNLICENSED),
    (_tenant(TenantState.TERMINATED), Code.CENTRAL_UNLICENSED),
    (_tenant(TenantState.EXPIRED), Code.TRIAL_EXPIRED),
    (_tenant(TenantState.TRIAL, trial_expires_at=NOW), Code.TRIAL_EXPIRED),
    (_tenant(TenantState.TRIAL, trial_expires_at=NOW + timedelta(seconds=1)), None),
    (_tenant(TenantState.LICENSED, contract_ends_at=NOW), Code.CENTRAL_UNLICENSED),
    (_tenant(TenantState.LICENSED), None),
])
def test_tenant_guards(tenant, code):
    assert _code(tenant_may_license, tenant, LM, NOW) == code


def test_trial_conflict_only_for_an_active_license_from_elsewhere():
    trial = _tenant(TenantState.TRIAL, trial_expires_at=NOW + timedelta(days=1))
    elsewhere = LoadMaster(**{**LM.__dict__, "existing_license": ExistingLicense("x", True)})
    inactive = LoadMaster(**{**LM.__dict__, "existing_license": ExistingLicense("x", False)})

    assert _code(tenant_may_license, trial, elsewhere, NOW) == Code.TRIAL_CONFLICT
    assert _code(tenant_may_license, trial, inactive, NOW) is None
    assert _code(tenant_may_license, _tenant(TenantState.LICENSED), elsewhere, NOW) is None


def test_unlicensed_is_checked_before_trial_conflict():
    elsewhere = LoadMaster(**{**LM.__dict__, "existing_license": ExistingLicense("x", True)})

    assert _code(tenant_may_license, _tenant(TenantState.UNLICENSED), elsewhere, NOW) == Code.CENTRAL_UNLICENSED


@pytest.mark.parametrize("image, spla", [("LoadMaster-VLM-7.2.47-SPLA.ova", True), ("lm-spla.vhd", True),
                                         ("LoadMaster-VLM-7.2.47.ova", False)])
def test_spla_image(image, spla):
    assert is_spla_image(image) is spla


def test_no_type_for_sku_names_the_sku():
    with pytest.raises(DomainError) as e:
        types_for_sku([LicenseType("t1", "lt1", "x", "VLM-200-SPLA", 1, 0)], "VLM-MAX-SPLA")

    assert e.value.message == "No License configured for LM SKU VLM-MAX-SPLA."


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
    for check in (lambda: ring.verify(token, "JWT"), lambda: other.verify(token, "device+jwt"),
                  lambda: ring.verify(token + "x", "device+jwt"), lambda: ring.verify("a.b", "device+jwt")):
        with pytest.raises(signing.InvalidToken):
            check()
