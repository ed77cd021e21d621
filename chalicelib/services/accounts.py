"""People's accounts (the seed's Kemp ID, section 2): register and confirm within 24 hours, sign
in and out, reset a forgotten password, change the name or the email.

Cognito holds the identities (``chalicelib.store.identity``); passwords and codes pass through
to it and are never stored or logged. Registration, sign-in and password reset are throttled
per email and per source address, and answer the same whether or not the email has an account.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.budget import Budget
from chalicelib.domain import passwords
from chalicelib.domain.accounts import (
    CONFIRM_WITHIN,
    Account,
    Membership,
    Principal,
    Session,
    email_hash,
    normalise_email,
)
from chalicelib.domain.errors import Code, DomainError
from chalicelib.domain.windows import Window
from chalicelib.observability import count, logger
from chalicelib.security import access_tokens
from chalicelib.services.reports import SweepReport
from chalicelib.settings import get_settings
from chalicelib.store import counters, events, identity, members

HOUR_S = 3600


def _accounts_on() -> None:
    if not identity.enabled():
        # No user pool configured: for this deployment the account routes do not exist.
        raise DomainError(Code.NOT_FOUND, "Accounts are not enabled on this service.")


def password_policy() -> dict:
    """The pool's password policy, published so a client can check a password before sending it."""
    _accounts_on()
    return passwords.published()


def throttle(action: str, email: str, source: str, now: datetime) -> None:
    """One more ``action`` for the email and for the source address this hour; RATE_LIMITED past
    either limit. The email's counter exists whether or not it has an account."""
    settings = get_settings()
    for key, limit in (
        (f"account#{action}#email#{email_hash(email)}", settings.account_attempts_per_email_per_hour),
        (f"account#{action}#addr#{source}", settings.account_attempts_per_address_per_hour),
    ):
        window = Window.of(key, now, HOUR_S)
        if not counters.take(window, limit):
            count("AccountThrottled", action=action)
            raise DomainError(Code.RATE_LIMITED, detail={"retry_after_s": window.retry_after_s})


def register(email: str, password: str, name: str, *, source: str, now: datetime) -> None:
    """Register (Cognito mails the validation code). An email with a confirmed account changes
    nothing; one whose registration was never confirmed is registered afresh (the new
    registration's 24 hours start now, and a stranger's squat on the email does not block its
    owner). The caller cannot tell these apart."""
    _accounts_on()
    passwords.check(password)
    email = normalise_email(email)
    throttle("register", email, source, now)
    if identity.sign_up(email, password, name):
        count("AccountRegistered")
        return
    existing = identity.find_account(email)
    if existing is not None and not existing.confirmed:
        identity.delete_account(existing.account_id)
        identity.sign_up(email, password, name)
        count("AccountRegistered")


def confirm(email: str, code: str, now: datetime) -> list[Membership]:
    """The registration's validation code; then the invitations waiting for this email make the
    account a member of their tenants."""
    _accounts_on()
    email = normalise_email(email)
    identity.confirm_sign_up(email, code)
    account = identity.find_account(email)
    if account is None:  # purged between the two calls
        raise DomainError(
            Code.VALIDATION_ERROR, "The code is not valid, or has expired.", detail={"fields": {"code": "not valid"}}
        )
    return join_invited_tenants(account, now)


def join_invited_tenants(account: Account, now: datetime) -> list[Membership]:
    joined = members.accept_invitations(account, now)
    for m in joined:
        events.record(m.tenant_id, "member.joined", now, account_id=account.account_id, role=str(m.role))
    return joined


def join_if_confirmed(email: str, now: datetime) -> Account | None:
    """The account with this email, when it exists and is confirmed, having taken up its
    invitations now (an invitation is written before this is asked, and a confirmation accepts
    invitations after confirming: whichever lands second sees the other's write)."""
    if not identity.enabled():
        return None
    account = identity.find_account(email)
    if account is None or not account.confirmed:
        return None
    join_invited_tenants(account, now)
    return account


def sign_in(email: str, password: str, *, source: str, now: datetime) -> Session:
    """Tokens for the account. An invitation that reached the email while the account was being
    confirmed is accepted here at the latest, before the first token is used."""
    _accounts_on()
    email = normalise_email(email)
    throttle("sign-in", email, source, now)
    session = identity.sign_in(email, password)
    try:
        principal = access_tokens.verify(session.access_token)
    except access_tokens.InvalidAccessToken as e:  # Cognito's own token: a misconfiguration
        logger.error("a fresh access token does not verify", extra={"error": str(e)})
        raise DomainError(Code.INTERNAL) from e
    account = Account(principal.account_id, email, "")
    join_invited_tenants(account, now)
    for m in members.memberships_of(principal.account_id):
        events.record(m.tenant_id, "member.signed_in", now, account_id=principal.account_id, role=str(m.role))
    return Session(session.access_token, session.refresh_token, session.expires_in)


def refresh(refresh_token: str) -> Session:
    _accounts_on()
    session = identity.refresh(refresh_token)
    return Session(session.access_token, session.refresh_token, session.expires_in)


def sign_out(principal: Principal) -> None:
    """Every session of the account ends (Cognito's global sign-out)."""
    identity.sign_out(principal.access_token)


def reset_password(email: str, *, source: str, now: datetime) -> None:
    _accounts_on()
    email = normalise_email(email)
    throttle("password-reset", email, source, now)
    identity.forgot_password(email)


def confirm_password_reset(email: str, code: str, password: str, *, source: str, now: datetime) -> None:
    _accounts_on()
    passwords.check(password)
    email = normalise_email(email)
    throttle("password-reset-confirm", email, source, now)
    identity.confirm_forgot_password(email, code, password)


@dataclass(frozen=True)
class AccountView:
    account: Account
    tenants: list[Membership]
    pending_email: str | None = None


def get_account(principal: Principal) -> AccountView:
    account = identity.get_account(principal.access_token)
    return AccountView(account, members.memberships_of(principal.account_id))


def update_account(principal: Principal, *, name: str | None, email: str | None) -> AccountView:
    """A new name at once; a new email once its code is confirmed (Cognito mails it to the new
    address; until then the account keeps its email, ``pending_email`` says which is waiting)."""
    before = get_account(principal)
    email = normalise_email(email) if email else None
    identity.update_attributes(principal.access_token, name=name, email=email)
    account = replace(before.account, name=name if name is not None else before.account.name)
    return AccountView(account, before.tenants, pending_email=email)


def confirm_email(principal: Principal, code: str, now: datetime) -> AccountView:
    """The new email is the account's from now on: the members lists say it, and invitations
    waiting for it are accepted."""
    identity.verify_email(principal.access_token, code)
    view = get_account(principal)
    members.update_email(principal.account_id, view.account.email)
    join_invited_tenants(view.account, now)
    return get_account(principal)


def purge_unconfirmed(now: datetime, budget: Budget) -> dict:
    """The seed's 24-hour rule: registrations not confirmed within 24 hours of registering are
    deleted, and the email may register again. Cognito has no conditional delete, but none is
    needed: a registration's only code is mailed when it is made (a new registration of the
    email starts a new one, see ``register``) and Cognito lets a code confirm for 24 hours, so
    a registration this old can no longer be confirmed while we delete it."""
    report = SweepReport("purge_unconfirmed")
    if not identity.enabled():
        return report.publish()
    cutoff = now - CONFIRM_WITHIN
    for username, account in identity.unconfirmed_registrations():
        if account.created_at is None or account.created_at > cutoff:
            continue
        if not budget.left():
            report.stopped_early = True  # the next run goes on: these are still unconfirmed
            break
        report.due += 1
        if identity.delete_account(username):
            report.acted += 1
        else:
            report.skipped += 1
    return report.publish()
