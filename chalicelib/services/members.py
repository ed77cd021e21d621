"""Accounts in tenants: a confirmed account creates its tenant and owns it, starts the tenant's
one trial, invites people as ``admin`` or ``viewer``, changes roles, removes members and
transfers ownership (the seed's change of ownership, section 2.3). Every change lands in the
tenant's debug log with the account that made it."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import ids
from chalicelib.domain.accounts import Invitation, Membership, Principal, Role, email_hash, normalise_email
from chalicelib.domain.errors import Code, DomainError, conflict
from chalicelib.domain.model import Tenant, TenantState
from chalicelib.observability import logger
from chalicelib.security.auth import Member
from chalicelib.security.keys import KeyKind, issue_key
from chalicelib.services import accounts, tenants
from chalicelib.services.tenants import NewTenant
from chalicelib.store import events, identity, members


def create_tenant(principal: Principal, name: str, now: datetime) -> NewTenant:
    """The account's own tenant, UNLICENSED, with its two keys; the account is its owner from
    the same write on."""
    account = identity.get_account(principal.access_token)
    tenant_id = ids.new_tenant_id()
    api_key, activation_key = issue_key(KeyKind.API, tenant_id), issue_key(KeyKind.ACTIVATION, tenant_id)
    tenant = Tenant(
        tenant_id=tenant_id,
        name=name,
        owner_email=normalise_email(account.email),
        state=TenantState.UNLICENSED,
        created_at=now,
        api_key_hash=api_key.sha256,
        activation_key_hash=activation_key.sha256,
    )
    members.create_owned_tenant(tenant, account, now)
    logger.info("tenant created by an account", extra={"tenant_id": tenant_id})
    events.record(tenant_id, "tenant.created", now, name=name, by=account.account_id)
    return NewTenant(tenant, api_key.plaintext, activation_key.plaintext)


def start_trial(caller: Member, now: datetime) -> Tenant:
    """The owner starts the tenant's one trial, as the operator's (30 days, 5 instances); one per
    tenant and one per verified email."""
    account = identity.get_account(caller.principal.access_token)
    if not account.email_verified:
        raise DomainError(Code.FORBIDDEN, "The account's email is not verified.")
    return tenants.start_trial(
        caller.tenant.tenant_id,
        days=30,
        instances=5,
        skus=["VLM-MAX-SPLA"],
        now=now,
        email_sha256=email_hash(account.email),
        started_by=account.account_id,
    )


def list_members(tenant: Tenant) -> tuple[list[Membership], list[Invitation]]:
    return members.members_of(tenant.tenant_id)


def invite(caller: Member, email: str, role: Role, now: datetime) -> Membership | Invitation:
    """The account with this email is a member from now on if it exists and is confirmed, else
    from its confirmation on, with no further step. The invitation is written first and the
    account looked up after, and a confirmation accepts invitations after confirming: whichever
    lands second sees the other's write (and a sign-in accepts any left, before a token is
    used)."""
    tenant_id = caller.tenant.tenant_id
    email = normalise_email(email)
    invitation = members.invite(caller.tenant, email, role, caller.principal.account_id, now)
    events.record(
        tenant_id, "member.invited", now, email=invitation.email, role=str(role), by=caller.principal.account_id
    )
    account = accounts.join_if_confirmed(email, now)
    found = members.membership(account.account_id, tenant_id) if account is not None else None
    return found if found is not None else invitation


def withdraw_invitation(caller: Member, email: str, now: datetime) -> str:
    """The invitation goes before anyone accepts it (NOT_FOUND when there is none, accepted
    already included): the email joins no longer when its account confirms or signs in."""
    email = normalise_email(email)
    members.cancel_invitation(caller.tenant.tenant_id, email, caller.principal.account_id)
    events.record(
        caller.tenant.tenant_id, "member.invitation_withdrawn", now, email=email, by=caller.principal.account_id
    )
    return email


def set_role(caller: Member, account_id: str, role: Role, now: datetime) -> Membership:
    members.set_role(caller.tenant.tenant_id, account_id, role, caller.principal.account_id)
    events.record(
        caller.tenant.tenant_id,
        "member.role_changed",
        now,
        account_id=account_id,
        role=str(role),
        by=caller.principal.account_id,
    )
    found = members.membership(account_id, caller.tenant.tenant_id)
    if found is None:
        raise DomainError(Code.NOT_FOUND, "Member not found.")
    return found


def remove(caller: Member, account_id: str, now: datetime) -> None:
    if account_id == caller.principal.account_id:
        raise conflict("The owner cannot leave the tenant: transfer the ownership first.")
    members.remove_member(caller.tenant.tenant_id, account_id, caller.principal.account_id)
    events.record(caller.tenant.tenant_id, "member.removed", now, account_id=account_id, by=caller.principal.account_id)


def transfer_ownership(caller: Member, account_id: str, now: datetime) -> Membership:
    """The member becomes the owner, the owner an admin, at once."""
    target = members.membership(account_id, caller.tenant.tenant_id)
    if target is None:
        raise DomainError(Code.NOT_FOUND, "Member not found.")
    new_owner = members.transfer_ownership(
        caller.tenant.tenant_id, caller.principal.account_id, account_id, target.email
    )
    events.record(
        caller.tenant.tenant_id, "ownership.transferred", now, account_id=account_id, by=caller.principal.account_id
    )
    return new_owner
