"""Activation and confirmation: steps 6 to 9 of the seed's procedure ("Click Activate ... the
available license types are displayed ... Select the License Type ... Set Password").

The happy path of an activation is one read (the tenant, which also authenticated the key) and
one transaction; the reads that explain a refusal happen only when the transaction was refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib import notifications
from chalicelib.domain import ids
from chalicelib.domain.errors import Code, DomainError, conflict
from chalicelib.domain.licensing import (
    DeviceVerdict,
    LoadMaster,
    activation_refusal,
    device_verdict,
    is_spla_image,
    tenant_refusal,
    verdict_error,
)
from chalicelib.domain.model import HOLDING, Device, DeviceStatus, LicenseType, Tenant, TenantState
from chalicelib.domain.windows import RateLimit, Window
from chalicelib.observability import count, logger
from chalicelib.security.tokens import DeviceCredential, Lease, issue_device_token, issue_lease
from chalicelib.services.tenants import promote_due_contract
from chalicelib.settings import get_settings
from chalicelib.store import counters, events
from chalicelib.store import devices as device_store
from chalicelib.store import tenants as tenant_store
from chalicelib.store.transaction import TransactionCancelled


@dataclass(frozen=True)
class Activation:
    device: Device
    device_token: str
    lease: Lease
    replayed: bool = False
    overage: bool = False


def refused(
    error: DomainError, tenant: Tenant, lm: LoadMaster, now: datetime, lic_type_id: str | None = None
) -> DomainError:
    """Count, log and put in the tenant's debug log a refusal; the error to answer. Past
    REFUSALS_PER_KEY_PER_MINUTE refusals for the tenant's activation key, the answer is
    RATE_LIMITED instead, and nothing more is written: a key being probed costs little."""
    window = Window.of(f"refused#{tenant.tenant_id}", now, 60)
    if error.code != Code.RATE_LIMITED and not counters.take(window, get_settings().refusals_per_key_per_minute):
        error = DomainError(Code.RATE_LIMITED, detail={"retry_after_s": window.retry_after_s})
    count("ActivationsRefused", code=str(error.code))
    detail: dict[str, Any] = {"mac": lm.mac, "ip": lm.ip, "port": lm.port, "sku": lm.sku, "lic_type_id": lic_type_id}
    logger.info("activation refused", extra={"tenant_id": tenant.tenant_id, "code": str(error.code), **detail})
    if error.code != Code.RATE_LIMITED:
        events.record(tenant.tenant_id, "activation.refused", now, code=str(error.code), **detail)
    return error


def _mac_blocked(tenant: Tenant, lm: LoadMaster, now: datetime) -> bool:
    claim = device_store.get_claim(device_store.mac_claim(tenant.tenant_id, lm.mac), now)
    return claim is not None and claim.blocked


def _refuse_if(error: DomainError | None) -> None:
    if error is not None:
        raise error


def license_types_for(tenant: Tenant, lm: LoadMaster, now: datetime) -> list[LicenseType]:
    """The license types this LoadMaster may take (step 6: "the available license types are
    displayed"), after the checks in the contract's order."""
    tenant = promote_due_contract(tenant, now)
    types: list[LicenseType] = []

    def read_types() -> list[LicenseType]:
        types.extend(tenant_store.list_license_types(tenant.tenant_id))
        return types

    try:
        _refuse_if(
            activation_refusal(
                tenant.effective_state(now), lm, types=read_types, mac_blocked=lambda: _mac_blocked(tenant, lm, now)
            )
        )
    except DomainError as e:
        if e.code == Code.UNAVAILABLE:
            raise  # not a refusal: the caller retries
        raise refused(e, tenant, lm, now) from e
    return [t for t in types if t.sku == lm.sku]


def request_fingerprint(lm: LoadMaster, lic_type_id: str) -> str:
    body = json.dumps({**asdict(lm), "lic_type_id": lic_type_id}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def activate(
    tenant: Tenant, lm: LoadMaster, lic_type_id: str, *, idempotency_key: str | None, now: datetime
) -> Activation:
    """Take one instance of ``lic_type_id`` for this LoadMaster (step 7). A retry (same
    Idempotency-Key, or the same MAC asking for the same type while its device holds an
    instance) answers the same device and takes nothing more."""
    tenant = promote_due_contract(tenant, now)
    try:
        activation = _activate(tenant, lm, lic_type_id, idempotency_key, now)
    except DomainError as e:
        if e.code == Code.UNAVAILABLE:
            raise  # not a refusal: the caller retries
        raise refused(e, tenant, lm, now, lic_type_id) from e
    if not activation.replayed:
        count("ActivationsGranted")
        if activation.overage:
            count("OverageGranted")
    logger.info(
        "activation granted",
        extra={
            "tenant_id": tenant.tenant_id,
            "device_id": activation.device.device_id,
            "mac": lm.mac,
            "lic_type_id": lic_type_id,
            "replayed": activation.replayed,
        },
    )
    return activation


class _Retry(Exception):
    """The transaction lost to something that is gone now (a UUID collision, a claim released
    between the refusal and the read, an idempotency key whose device was deleted): try again
    with a fresh device id."""

    def __init__(self, stale_idempotency_device: str | None = None) -> None:
        super().__init__()
        self.stale_idempotency_device = stale_idempotency_device


def _activate(
    tenant: Tenant, lm: LoadMaster, lic_type_id: str, idempotency_key: str | None, now: datetime
) -> Activation:
    state = tenant.effective_state(now)
    _refuse_if(tenant_refusal(state, lm))
    lic_type = tenant_store.get_license_type(tenant.tenant_id, lic_type_id)
    if not is_spla_image(lm.image) or lic_type is None or lic_type.sku != lm.sku:
        # A refusal is coming: give the one the contract's order puts first.
        _refuse_if(_decision(tenant, state, lm, lic_type_id, now))
        raise DomainError(Code.INVALID_LICENSE_TYPE)
    # Over capacity but within the overage policy: granted, metered as overage, and said so.
    overage = lic_type.in_use >= lic_type.capacity
    fingerprint = request_fingerprint(lm, lic_type_id) if idempotency_key else None
    # At most ACTIVATIONS_PER_MAC_PER_HOUR activations of one MAC: counted in the transaction.
    rate_window = Window.of(f"act#{tenant.tenant_id}#{lm.mac}", now, 3600)
    rate = RateLimit(rate_window, get_settings().activations_per_mac_per_hour)
    stale_idempotency_device = None
    for _ in range(get_settings().activation_uuid_attempts):
        device = Device(
            device_id=ids.new_device_id(),
            tenant_id=tenant.tenant_id,
            mac=lm.mac,
            ip=lm.ip,
            port=lm.port,
            sku=lm.sku,
            image=lm.image,
            version=lm.version,
            lic_type_id=lic_type_id,
            status=DeviceStatus.PENDING,
            activated_at=now,
            confirm_by=now + timedelta(seconds=tenant.policy.confirm_window_s),
            lease_s=tenant.policy.lease_s,
            silent_after_s=tenant.policy.silent_after_s,
            check_in_interval_s=tenant.policy.check_in_interval_s,
        )
        try:
            device_store.insert_activation(
                device,
                tenant_state=state,
                now=now,
                overage=overage,
                idempotency_key=idempotency_key,
                request_hash=fingerprint,
                rate=rate,
                stale_idempotency_device=stale_idempotency_device,
            )
        except TransactionCancelled as e:
            try:
                replay = _explain_refusal(
                    e.failed, tenant, lm, lic_type_id, idempotency_key, fingerprint, now, rate_window
                )
            except _Retry as retry:
                stale_idempotency_device = retry.stale_idempotency_device or stale_idempotency_device
                continue
            return _issue(replay, now, replayed=True)
        limit = lic_type.overage_policy.max_in_use(lic_type.capacity)
        if limit is not None and lic_type.in_use + 1 >= limit:
            notifications.publish(
                notifications.LICENSE_TYPE_AT_LIMIT,
                tenant.tenant_id,
                lic_type_id=lic_type_id,
                name=lic_type.name,
                sku=lic_type.sku,
                capacity=lic_type.capacity,
                limit=limit,
            )
        return replace(_issue(device, now), overage=overage)
    # "Unable to generate license UUID": every attempt collided with an existing license.
    raise DomainError(Code.UUID_GENERATION_FAILED)


def _decision(
    tenant: Tenant,
    state: TenantState,
    lm: LoadMaster,
    lic_type_id: str,
    now: datetime,
    *,
    address_taken: bool = False,
    no_instance: bool = False,
) -> DomainError | None:
    return activation_refusal(
        state,
        lm,
        mac_blocked=lambda: _mac_blocked(tenant, lm, now),
        types=lambda: tenant_store.list_license_types(tenant.tenant_id),
        lic_type_id=lic_type_id,
        address_taken=address_taken,
        no_instance=no_instance,
    )


def _explain_refusal(
    failed: set[str],
    tenant: Tenant,
    lm: LoadMaster,
    lic_type_id: str,
    idempotency_key: str | None,
    fingerprint: str | None,
    now: datetime,
    rate_window: Window,
) -> Device:
    """Turn the failed conditions into the contract's answer, or into the device a retry asked
    for."""
    t = tenant.tenant_id
    if "idempotency" in failed:
        claim = device_store.get_claim(device_store.idempotency_claim(t, idempotency_key or ""), now)
        if claim is None:
            raise _Retry
        if claim.request_hash != fingerprint:
            raise conflict("This Idempotency-Key was used with a different request.")
        # A replay answers what the device is now; a deleted one frees its key.
        return _replayable(claim.device_id, stale_idempotency_device=claim.device_id)
    if "mac" in failed:
        claim = device_store.get_claim(device_store.mac_claim(t, lm.mac), now)
        if claim is None:
            raise _Retry
        # "This LoadMaster cannot be licensed ... at this time.": the MAC is BLOCKED here.
        if claim.blocked:
            raise DomainError(Code.DEVICE_BLOCKED)
        device = _existing(claim.device_id)
        if device.status in HOLDING and device.lic_type_id == lic_type_id:
            return device
        # Invariant 2: a MAC holds at most one license in a tenant.
        raise conflict(
            "This MAC already holds a license of another license type.",
            device_id=device.device_id,
            lic_type_id=device.lic_type_id,
        )
    if "rate" in failed:
        raise DomainError(
            Code.RATE_LIMITED,
            "This LoadMaster has activated too often this hour.",
            detail={"retry_after_s": rate_window.retry_after_s},
        )
    if failed & {"type", "tenant", "address"}:
        # The tenant or the pool may have changed since they were read: decide on them as they
        # are now, in the contract's order (an unlicensed tenant before a taken address).
        current = tenant_store.require_tenant(t) if "tenant" in failed else tenant
        _refuse_if(
            _decision(
                current,
                current.effective_state(now),
                lm,
                lic_type_id,
                now,
                address_taken="address" in failed,
                no_instance=bool(failed & {"type", "tenant"}),
            )
        )
    raise _Retry  # only the device id collided, or what refused it is gone now


def _existing(device_id: str) -> Device:
    device = device_store.get_device(device_id)
    if device is None:
        raise _Retry
    return device


def _replayable(device_id: str, *, stale_idempotency_device: str) -> Device:
    device = device_store.get_device(device_id)
    if device is None:
        raise _Retry(stale_idempotency_device)
    if device.status == DeviceStatus.BLOCKED:
        raise DomainError(Code.DEVICE_BLOCKED)
    if device.status == DeviceStatus.DEACTIVATED:
        raise DomainError(Code.DEVICE_DEACTIVATED)
    return device


def _issue(device: Device, now: datetime, *, replayed: bool = False) -> Activation:
    return Activation(device, issue_device_token(device), issue_lease(device, now), replayed)


def confirm(credential: DeviceCredential, device_id: str, now: datetime) -> Device:
    """Step 9: the LoadMaster's ``bal`` password is set. PENDING becomes ACTIVE, if it comes
    before the confirm deadline; after it the device is BLOCKED ("Block unconfirmed local
    license activation after")."""
    if credential.device_id != device_id:
        raise DomainError(Code.VERIFY_FAILED)
    for _ in range(3):
        confirmed = device_store.confirm(device_id, credential.tenant_id, credential.version, now)
        if confirmed is not None:
            logger.info("device confirmed", extra={"tenant_id": credential.tenant_id, "device_id": device_id})
            events.record(credential.tenant_id, "device.confirmed", now, device_id=device_id, mac=confirmed.mac)
            return confirmed
        device = device_store.get_device(device_id)
        verdict = device_verdict(device, tenant_id=credential.tenant_id, credential_version=credential.version)
        if verdict != DeviceVerdict.HOLDING:
            raise verdict_error(verdict, credential.mac)
        assert device is not None  # HOLDING is a verdict on a device
        if device.status == DeviceStatus.ACTIVE:
            return device  # a retried confirm
        if device.confirm_deadline_passed(now):
            # Do the sweep's work now rather than leave a late LoadMaster in limbo.
            device_store.release_if_due(
                device_store.Holder.of(device), DeviceStatus.BLOCKED, "not confirmed in time", now
            )
            raise DomainError(Code.DEVICE_BLOCKED)
    raise DomainError(Code.UNAVAILABLE)
