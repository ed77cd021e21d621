"""People's accounts (the seed's Kemp ID) and their tenants: registration, sessions, password
reset, the account itself, the account's tenant and trial, members and ownership."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import clock
from chalicelib.api.http import json_response, route
from chalicelib.api.schemas import (
    AcceptedResponse,
    AccountResponse,
    AccountTenantRequest,
    AccountTenantResponse,
    AccountUpdateRequest,
    ConfirmRequest,
    DeletedResponse,
    EmailConfirmRequest,
    InvitationQuery,
    InviteRequest,
    MemberResponse,
    MembersResponse,
    OwnershipRequest,
    PasswordPolicyResponse,
    PasswordResetConfirmRequest,
    PasswordResetRequest,
    RefreshRequest,
    RegisterRequest,
    RoleRequest,
    SessionResponse,
    SignInRequest,
    TenantCreatedResponse,
    TenantResponse,
)
from chalicelib.domain.accounts import Invitation, Principal, Role
from chalicelib.domain.model import Tenant
from chalicelib.security.auth import Member
from chalicelib.services import accounts, members
from chalicelib.services.accounts import AccountView
from chalicelib.services.tenants import with_effective_state

bp = Blueprint(__name__)

REGISTERED = "If the email can register, a validation code is on its way to it; confirm within 24 hours."
RESET = "If the email has an account, a reset code is on its way to it."


def _account_view(view: AccountView) -> AccountResponse:
    return AccountResponse(
        account_id=view.account.account_id,
        email=view.account.email,
        name=view.account.name,
        email_verified=view.account.email_verified,
        pending_email=view.pending_email,
        tenants=[AccountTenantResponse.model_validate(m) for m in view.tenants],
    )


def _member(m) -> MemberResponse:
    if isinstance(m, Invitation):
        return MemberResponse(account_id=None, email=m.email, role=str(m.role), status="invited")
    return MemberResponse(account_id=m.account_id, email=m.email, role=str(m.role))


# Registration, sessions, passwords ---------------------------------------------------------------


@route(
    bp,
    "/v1/accounts/password-policy",
    ["GET"],
    summary="The password policy (check a password before sending it)",
    response=PasswordPolicyResponse,
)
def password_policy():
    return json_response(PasswordPolicyResponse.model_validate(accounts.password_policy()))


@route(
    bp,
    "/v1/accounts",
    ["POST"],
    summary="Register (the validation code goes by email)",
    body=RegisterRequest,
    response=AcceptedResponse,
    status=202,
)
def register(body: RegisterRequest, source: str):
    accounts.register(body.email, body.password, body.name, source=source, now=clock.now())
    return json_response(AcceptedResponse(message=REGISTERED), 202)


@route(
    bp,
    "/v1/accounts/confirm",
    ["POST"],
    summary="Confirm a registration with its code",
    body=ConfirmRequest,
    response=AcceptedResponse,
)
def confirm(body: ConfirmRequest):
    accounts.confirm(body.email, body.code, clock.now())
    return json_response(AcceptedResponse(message="The account is confirmed: sign in."))


@route(bp, "/v1/sessions", ["POST"], summary="Sign in", body=SignInRequest, response=SessionResponse)
def sign_in(body: SignInRequest, source: str):
    session = accounts.sign_in(body.email, body.password, source=source, now=clock.now())
    return json_response(
        SessionResponse(
            access_token=session.access_token, refresh_token=session.refresh_token, expires_in=session.expires_in
        )
    )


@route(
    bp, "/v1/sessions/refresh", ["POST"], summary="A new access token", body=RefreshRequest, response=SessionResponse
)
def refresh(body: RefreshRequest):
    session = accounts.refresh(body.refresh_token)
    return json_response(
        SessionResponse(
            access_token=session.access_token, refresh_token=session.refresh_token, expires_in=session.expires_in
        )
    )


@route(
    bp,
    "/v1/sessions",
    ["DELETE"],
    summary="Sign out everywhere (every refresh token revoked)",
    auth="account",
    response=AcceptedResponse,
)
def sign_out(caller: Principal):
    accounts.sign_out(caller)
    return json_response(AcceptedResponse(message="Signed out."))


@route(
    bp,
    "/v1/accounts/password-reset",
    ["POST"],
    summary="Mail a password reset code",
    body=PasswordResetRequest,
    response=AcceptedResponse,
    status=202,
)
def password_reset(body: PasswordResetRequest, source: str):
    accounts.reset_password(body.email, source=source, now=clock.now())
    return json_response(AcceptedResponse(message=RESET), 202)


@route(
    bp,
    "/v1/accounts/password-reset/confirm",
    ["POST"],
    summary="Set a new password with the reset code",
    body=PasswordResetConfirmRequest,
    response=AcceptedResponse,
)
def password_reset_confirm(body: PasswordResetConfirmRequest, source: str):
    accounts.confirm_password_reset(body.email, body.code, body.password, source=source, now=clock.now())
    return json_response(AcceptedResponse(message="The password is changed: sign in."))


# The account -----------------------------------------------------------------------------------


@route(bp, "/v1/account", ["GET"], summary="The account and its tenants", auth="account", response=AccountResponse)
def get_account(caller: Principal):
    return json_response(_account_view(accounts.get_account(caller)))


@route(
    bp,
    "/v1/account",
    ["PATCH"],
    summary="Change the name, or the email (verified by a code)",
    auth="account",
    body=AccountUpdateRequest,
    response=AccountResponse,
)
def update_account(caller: Principal, body: AccountUpdateRequest):
    return json_response(_account_view(accounts.update_account(caller, name=body.name, email=body.email)))


@route(
    bp,
    "/v1/account/email/confirm",
    ["POST"],
    summary="Confirm the new email with its code",
    auth="account",
    body=EmailConfirmRequest,
    response=AccountResponse,
)
def confirm_email(caller: Principal, body: EmailConfirmRequest):
    return json_response(_account_view(accounts.confirm_email(caller, body.code, clock.now())))


@route(
    bp,
    "/v1/account/tenant",
    ["POST"],
    summary="Create the account's tenant (keys shown once)",
    auth="account",
    body=AccountTenantRequest,
    response=TenantCreatedResponse,
    status=201,
)
def create_tenant(caller: Principal, body: AccountTenantRequest):
    created = members.create_tenant(caller, body.name, clock.now())
    return json_response(
        TenantCreatedResponse(
            api_key=created.api_key,
            activation_key=created.activation_key,
            **TenantResponse.model_validate(created.tenant).model_dump(),
        ),
        201,
    )


# The tenant's people -----------------------------------------------------------------------------


@route(
    bp,
    "/v1/trial",
    ["POST"],
    summary="The owner starts the tenant's one trial",
    auth="tenant_owner",
    response=TenantResponse,
    status=201,
)
def start_trial(caller: Member):
    tenant = members.start_trial(caller, clock.now())
    return json_response(TenantResponse.model_validate(with_effective_state(tenant, clock.now())), 201)


@route(
    bp,
    "/v1/members",
    ["GET"],
    summary="Members and invitations, with roles",
    auth="tenant_manager",
    response=MembersResponse,
)
def list_members(caller: Tenant):
    found, invited = members.list_members(caller)
    return json_response(MembersResponse(members=[_member(m) for m in [*found, *invited]]))


@route(
    bp,
    "/v1/members",
    ["POST"],
    summary="Invite an email as admin or viewer",
    auth="tenant_owner",
    body=InviteRequest,
    response=MemberResponse,
    status=201,
)
def invite(caller: Member, body: InviteRequest):
    return json_response(_member(members.invite(caller, body.email, Role(body.role), clock.now())), 201)


@route(
    bp,
    "/v1/invitations",
    ["DELETE"],
    summary="Withdraw the invitation of an email",
    auth="tenant_owner",
    query=InvitationQuery,
    response=DeletedResponse,
)
def withdraw_invitation(caller: Member, query: InvitationQuery):
    return json_response(DeletedResponse(deleted=members.withdraw_invitation(caller, query.email, clock.now())))


@route(
    bp,
    "/v1/members/{account_id}",
    ["PATCH"],
    summary="Change a member's role",
    auth="tenant_owner",
    body=RoleRequest,
    response=MemberResponse,
)
def set_role(account_id: str, caller: Member, body: RoleRequest):
    return json_response(_member(members.set_role(caller, account_id, Role(body.role), clock.now())))


@route(
    bp, "/v1/members/{account_id}", ["DELETE"], summary="Remove a member", auth="tenant_owner", response=DeletedResponse
)
def remove_member(account_id: str, caller: Member):
    members.remove(caller, account_id, clock.now())
    return json_response({"deleted": account_id})


@route(
    bp,
    "/v1/ownership",
    ["POST"],
    summary="Transfer ownership to a member (the owner becomes admin)",
    auth="tenant_owner",
    body=OwnershipRequest,
    response=MemberResponse,
)
def transfer_ownership(caller: Member, body: OwnershipRequest):
    return json_response(_member(members.transfer_ownership(caller, body.account_id, clock.now())))
