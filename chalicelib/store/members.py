"""Accounts in tenants: memberships, invitations and ownership (``MemberItem``).

Every change a race could break is one transaction with conditions, never a read before the
write (but the owner, which a change of owner must name: its write is conditional on the role
read, and read again when refused): a tenant has exactly one owner at every moment (a transfer
demotes the owner and promotes the member together, each on the condition of its role; the
owner cannot be removed or demoted); only the owner manages members (each such write checks, in
the same transaction, that the caller is still the owner); a membership is the two items of
``MemberItem`` written and deleted together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.domain.accounts import Account, Invitation, Membership, Role, normalise_email
from chalicelib.domain.errors import DomainError, conflict, not_found
from chalicelib.domain.model import Tenant
from chalicelib.store.failures import dynamodb
from chalicelib.store.models import MemberItem, TenantItem
from chalicelib.store.tenants import tenant_item
from chalicelib.store.transaction import Transaction, TransactionCancelled


def _tenant(tenant_id: str) -> str:
    return f"tenant#{tenant_id}"


def _account(account_id: str) -> str:
    return f"account#{account_id}"


def _invite(email: str) -> str:
    return f"invite#{normalise_email(email)}"


def _membership(item: MemberItem) -> Membership:
    return Membership(item.tenant_id, item.account_id or "", item.email or "", Role(item.role), item.tenant_name or "")


def _member_items(tenant_id: str, tenant_name: str, account: Account, role: Role, now: datetime):
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "tenant_name": tenant_name,
        "account_id": account.account_id,
        "email": normalise_email(account.email),
        "role": str(role),
        "created_at": now,
    }
    return (
        MemberItem(_tenant(tenant_id), _account(account.account_id), **fields),
        MemberItem(_account(account.account_id), _tenant(tenant_id), **fields),
    )


def _invitation_items(invitation: Invitation, now: datetime) -> tuple[MemberItem, MemberItem]:
    fields: dict[str, Any] = {
        "tenant_id": invitation.tenant_id,
        "tenant_name": invitation.tenant_name,
        "email": invitation.email,
        "role": str(invitation.role),
        "created_at": now,
    }
    return (
        MemberItem(_tenant(invitation.tenant_id), _invite(invitation.email), **fields),
        MemberItem(_invite(invitation.email), _tenant(invitation.tenant_id), **fields),
    )


def _keys(tenant_id: str, account_id: str) -> tuple[MemberItem, MemberItem]:
    return MemberItem(_tenant(tenant_id), _account(account_id)), MemberItem(_account(account_id), _tenant(tenant_id))


def _caller_is_owner(tx: Transaction, tenant_id: str, owner_id: str) -> None:
    tx.check("caller", MemberItem, _account(owner_id), _tenant(tenant_id), condition=MemberItem.role == str(Role.OWNER))


def _not_owner() -> DomainError:
    from chalicelib.domain.errors import Code

    return DomainError(Code.FORBIDDEN, "Only the tenant's owner may do that.")


@dynamodb
def create_owned_tenant(tenant: Tenant, owner: Account, now: datetime) -> None:
    """The tenant and its owner, at once: there is no moment when the tenant has no owner."""
    tx = Transaction()
    tx.put("tenant", tenant_item(tenant), condition=TenantItem.tenant_id.does_not_exist())
    for n, item in enumerate(_member_items(tenant.tenant_id, tenant.name, owner, Role.OWNER, now)):
        tx.put(f"member{n}", item, condition=MemberItem.pk.does_not_exist())
    tx.commit()


@dynamodb
def create_tenant_inviting_owner(tenant: Tenant, now: datetime) -> Invitation:
    """The operator's tenant and the invitation of its ``owner_email`` as owner, at once: the
    account with that email owns the tenant from its confirmation (or sign-in) on."""
    invitation = Invitation(tenant.tenant_id, normalise_email(tenant.owner_email), Role.OWNER, tenant.name)
    tx = Transaction()
    tx.put("tenant", tenant_item(tenant), condition=TenantItem.tenant_id.does_not_exist())
    for n, item in enumerate(_invitation_items(invitation, now)):
        tx.put(f"invite{n}", item)
    tx.commit()
    return invitation


@dynamodb
def membership(account_id: str, tenant_id: str) -> Membership | None:
    try:
        return _membership(MemberItem.get(_account(account_id), _tenant(tenant_id), consistent_read=True))
    except DoesNotExist:
        return None


@dynamodb
def memberships_of(account_id: str) -> list[Membership]:
    return [
        _membership(i)
        for i in MemberItem.query(_account(account_id), MemberItem.sk.startswith("tenant#"), consistent_read=True)
    ]


@dynamodb
def members_of(tenant_id: str) -> tuple[list[Membership], list[Invitation]]:
    members, invitations = [], []
    for item in MemberItem.query(_tenant(tenant_id), consistent_read=True):
        if item.sk.startswith("account#"):
            members.append(_membership(item))
        elif item.sk.startswith("invite#"):
            invitations.append(Invitation(item.tenant_id, item.email or "", Role(item.role), item.tenant_name or ""))
    return members, invitations


@dynamodb
def invite(tenant: Tenant, email: str, role: Role, owner_id: str, now: datetime) -> Invitation:
    """Record an invitation of ``email`` (a second one replaces the first's role, but not the
    operator's invitation as owner: only another change of owner replaces that)."""
    invitation = Invitation(tenant.tenant_id, normalise_email(email), role, tenant.name)
    tx = Transaction()
    _caller_is_owner(tx, tenant.tenant_id, owner_id)
    for label, item in zip(("by-tenant", "by-email"), _invitation_items(invitation, now), strict=True):
        tx.put(label, item, condition=_not_invited_as_owner())
    try:
        tx.commit()
    except TransactionCancelled as e:
        if "caller" in e.failed:
            raise _not_owner() from e
        raise _invited_as_owner() from e
    return invitation


def _not_invited_as_owner():
    return MemberItem.pk.does_not_exist() | (MemberItem.role != str(Role.OWNER))


def _invited_as_owner() -> DomainError:
    return conflict("The email is invited as the tenant's owner: only the operator changes that.", role=str(Role.OWNER))


class OwnerMoved(Exception):
    """The owner read before a change of owner is the owner no longer: read again and retry."""


# How often a change of owner reads the owner again after losing a race.
ATTEMPTS = 5


@dynamodb
def owner_of(tenant_id: str) -> Membership | None:
    """The tenant's owner member; None while nobody has taken up the operator's owner invitation."""
    return next((m for m in members_of(tenant_id)[0] if m.role == Role.OWNER), None)


@dynamodb
def accept_invitations(account: Account, now: datetime) -> list[Membership]:
    """Turn every invitation of the account's email into a membership (each invitation once:
    its deletion is conditional on its existence). An account that is a member already keeps
    its role and the invitation goes. An invitation as owner (the operator's) holds only while
    the tenant's owner email is still this one: the operator may have given the tenant to
    another email since. It makes the account the owner (a member already, promoted) and the
    former owner an admin in the same transaction, so a tenant never has two owners."""
    email = normalise_email(account.email)
    joined = []
    for item in MemberItem.query(_invite(email), consistent_read=True):
        role, tenant_id = Role(item.role), item.tenant_id
        for _ in range(ATTEMPTS):
            try:
                member = _accept(account, email, role, tenant_id, item.tenant_name or "", now)
            except OwnerMoved:
                continue
            if member is not None:
                joined.append(member)
            break
    return joined


def _accept(
    account: Account, email: str, role: Role, tenant_id: str, tenant_name: str, now: datetime
) -> Membership | None:
    tx = Transaction()
    tx.delete("by-email", MemberItem(_invite(email), _tenant(tenant_id)), condition=MemberItem.pk.exists())
    tx.delete("by-tenant", MemberItem(_tenant(tenant_id), _invite(email)))
    promoted = False
    if role == Role.OWNER:
        tx.check("tenant", TenantItem, tenant_id, condition=TenantItem.owner_email == email)
        owner = owner_of(tenant_id)
        if owner is not None and owner.account_id != account.account_id:
            _demote(tx, tenant_id, owner.account_id)
        promoted = membership(account.account_id, tenant_id) is not None
    if promoted:
        _promote(tx, tenant_id, account.account_id)
    else:
        for n, item in enumerate(_member_items(tenant_id, tenant_name, account, role, now)):
            tx.put(f"member{n}", item, condition=MemberItem.pk.does_not_exist())
    try:
        tx.commit()
    except TransactionCancelled as e:
        if "by-email" in e.failed:
            return None  # another request accepted it first
        if e.failed & {"owner0", "owner1"}:
            raise OwnerMoved from e  # a transfer moved the ownership meanwhile
        # A member already (the owner, for an owner's invitation), or the tenant's owner no
        # longer: the invitation is spent.
        done = Transaction()
        done.delete("by-email", MemberItem(_invite(email), _tenant(tenant_id)))
        done.delete("by-tenant", MemberItem(_tenant(tenant_id), _invite(email)))
        done.commit()
        return None
    return Membership(tenant_id, account.account_id, email, role, tenant_name)


@dynamodb
def cancel_invitation(tenant_id: str, email: str, owner_id: str) -> None:
    tx = Transaction()
    _caller_is_owner(tx, tenant_id, owner_id)
    tx.delete(
        "by-tenant",
        MemberItem(_tenant(tenant_id), _invite(email)),
        condition=MemberItem.pk.exists() & _not_invited_as_owner(),
    )
    tx.delete("by-email", MemberItem(_invite(email), _tenant(tenant_id)))
    try:
        tx.commit()
    except TransactionCancelled as e:
        if "caller" in e.failed:
            raise _not_owner() from e
        if any(i.email == normalise_email(email) for i in members_of(tenant_id)[1]):
            raise _invited_as_owner() from e
        raise not_found("Invitation") from e


def _explain(e: TransactionCancelled, tenant_id: str, account_id: str) -> DomainError:
    if "caller" in e.failed:
        return _not_owner()
    found = membership(account_id, tenant_id)
    if found is None:
        return not_found("Member")
    return conflict("The owner's role changes only by a transfer of ownership.", role=str(found.role))


@dynamodb
def set_role(tenant_id: str, account_id: str, role: Role, owner_id: str) -> None:
    """A member's new role (admin or viewer); never the owner's."""
    if account_id == owner_id:  # the owner's own role moves only by a transfer
        raise conflict("The owner's role changes only by a transfer of ownership.", role=str(Role.OWNER))
    tx = Transaction()
    _caller_is_owner(tx, tenant_id, owner_id)
    for n, item in enumerate(_keys(tenant_id, account_id)):
        tx.update(
            f"member{n}",
            item,
            [MemberItem.role.set(str(role))],
            condition=MemberItem.pk.exists() & (MemberItem.role != str(Role.OWNER)),
        )
    try:
        tx.commit()
    except TransactionCancelled as e:
        raise _explain(e, tenant_id, account_id) from e


@dynamodb
def remove_member(tenant_id: str, account_id: str, owner_id: str) -> None:
    """Remove a member; never the owner (a tenant always has one)."""
    if account_id == owner_id:  # the owner's own role moves only by a transfer
        raise conflict("The owner's role changes only by a transfer of ownership.", role=str(Role.OWNER))
    tx = Transaction()
    _caller_is_owner(tx, tenant_id, owner_id)
    for n, item in enumerate(_keys(tenant_id, account_id)):
        tx.delete(f"member{n}", item, condition=MemberItem.pk.exists() & (MemberItem.role != str(Role.OWNER)))
    try:
        tx.commit()
    except TransactionCancelled as e:
        raise _explain(e, tenant_id, account_id) from e


def _demote(tx: Transaction, tenant_id: str, owner_id: str) -> None:
    for n, item in enumerate(_keys(tenant_id, owner_id)):
        tx.update(
            f"owner{n}", item, [MemberItem.role.set(str(Role.ADMIN))], condition=MemberItem.role == str(Role.OWNER)
        )


def _promote(tx: Transaction, tenant_id: str, account_id: str) -> None:
    for n, item in enumerate(_keys(tenant_id, account_id)):
        tx.update(
            f"member{n}",
            item,
            [MemberItem.role.set(str(Role.OWNER))],
            condition=MemberItem.pk.exists() & (MemberItem.role != str(Role.OWNER)),
        )


def _set_owner_email(tx: Transaction, tenant_id: str, email: str) -> None:
    tx.update(
        "tenant",
        TenantItem(tenant_id),
        [TenantItem.owner_email.set(normalise_email(email))],
        condition=TenantItem.tenant_id.exists(),
    )


@dynamodb
def transfer_ownership(tenant_id: str, owner_id: str, to_account_id: str, to_email: str) -> Membership:
    """The member becomes the owner and the owner an admin, in one transaction conditional on
    both roles as they must be: of two transfers at once, one wins and the other is refused."""
    if owner_id == to_account_id:
        raise conflict("The account is the owner already.")
    tx = Transaction()
    _demote(tx, tenant_id, owner_id)
    _promote(tx, tenant_id, to_account_id)
    _set_owner_email(tx, tenant_id, to_email)
    try:
        tx.commit()
    except TransactionCancelled as e:
        if e.failed & {"owner0", "owner1"}:
            raise _not_owner() from e
        raise not_found("Member") from e
    found = membership(to_account_id, tenant_id)
    if found is None:  # removed since: cannot be, the owner alone removes
        raise not_found("Member")
    return found


def _drop_owner_invitations(tx: Transaction, tenant_id: str, keep: str = "") -> None:
    """Drop the tenant's invitations as owner (but ``keep``'s): a change of owner voids them."""
    for invitation in members_of(tenant_id)[1]:
        if invitation.role == Role.OWNER and invitation.email != keep:
            tx.delete(f"by-tenant {invitation.email}", MemberItem(_tenant(tenant_id), _invite(invitation.email)))
            tx.delete(f"by-email {invitation.email}", MemberItem(_invite(invitation.email), _tenant(tenant_id)))


@dynamodb
def give_to_member(tenant_id: str, owner_id: str, to: Membership) -> None:
    """The operator's change of owner to a member: the member becomes the owner, the owner an
    admin and the tenant's owner email the member's, in one transaction conditional on both
    roles (as an owner's transfer); older invitations as owner go with it. ``OwnerMoved`` when
    either role moved since they were read."""
    tx = Transaction()
    _demote(tx, tenant_id, owner_id)
    _promote(tx, tenant_id, to.account_id)
    _set_owner_email(tx, tenant_id, to.email)
    _drop_owner_invitations(tx, tenant_id)
    try:
        tx.commit()
    except TransactionCancelled as e:
        if "tenant" in e.failed:
            raise not_found("Tenant") from e
        raise OwnerMoved from e


@dynamodb
def invite_owner(tenant: Tenant, email: str, now: datetime) -> Invitation:
    """The operator's change of owner to an email that is not a member: the tenant's owner email
    and an invitation of it as owner, replacing any older one, in one transaction. The owner
    member stays until the invitee joins (``accept_invitations`` hands it over)."""
    invitation = Invitation(tenant.tenant_id, normalise_email(email), Role.OWNER, tenant.name)
    tx = Transaction()
    _set_owner_email(tx, tenant.tenant_id, invitation.email)
    _drop_owner_invitations(tx, tenant.tenant_id, keep=invitation.email)
    for label, item in zip(("invite-by-tenant", "invite-by-email"), _invitation_items(invitation, now), strict=True):
        tx.put(label, item)
    try:
        tx.commit()
    except TransactionCancelled as e:
        raise not_found("Tenant") from e
    return invitation


@dynamodb
def update_email(account_id: str, email: str) -> None:
    """The account's new (verified) email on each of its memberships, as the members lists show."""
    for m in memberships_of(account_id):
        for item in _keys(m.tenant_id, account_id):
            item.update([MemberItem.email.set(normalise_email(email))], condition=MemberItem.pk.exists())
