"""People's identities on Amazon Cognito user pools (moto's Cognito locally and in tests).

The only code that calls ``cognito-idp``. Passwords and codes go to Cognito and nowhere else:
they are never stored, logged or put in an error. Cognito's refusals become domain errors in
the API's words; its passing failures (throttling, an internal error, no answer) become
UNAVAILABLE, as DynamoDB's do (``chalicelib.store.failures``).

Which calls need IAM: only the ``Admin*`` and ``ListUsers`` calls, made with the function's
role (``infra/permissions.py``, resource ``userpool:accounts``). SignUp, ConfirmSignUp,
InitiateAuth, ForgotPassword, ConfirmForgotPassword, GetUser, UpdateUserAttributes,
VerifyUserAttribute and GlobalSignOut are public calls of the app client or of the caller's
own access token, and need none.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import URLLib3Session

from chalicelib.domain import passwords
from chalicelib.domain.accounts import Account, Session
from chalicelib.domain.errors import Code, DomainError, validation
from chalicelib.observability import logger
from chalicelib.settings import get_settings
from chalicelib.store import aws

_client: Any = None

# Cognito's answers that mean "not now": the caller should retry.
TRANSIENT = {
    "TooManyRequestsException",
    "InternalErrorException",
    "ServiceUnavailable",
    "ThrottlingException",
    "RequestTimeout",
}
# Refusals a person causes by trying too often (codes requested, wrong codes): theirs to wait out.
TOO_OFTEN = {"LimitExceededException", "TooManyFailedAttemptsException", "CodeDeliveryFailureException"}


def reset_client() -> None:
    """Forget the client (``configure`` with other settings)."""
    global _client
    _client = None


def client() -> Any:
    global _client
    if _client is None:
        _client = aws.client("cognito-idp")
    return _client


def enabled() -> bool:
    return bool(get_settings().cognito_user_pool_id)


def _pool() -> str:
    return get_settings().cognito_user_pool_id


def app_client_id() -> str:
    return get_settings().cognito_client_id


_app_client = app_client_id


def _code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


def _message(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Message", "")


def cognito[F: Callable[..., Any]](operation: F) -> F:
    """A Cognito call whose passing failures are UNAVAILABLE and whose refusals by too many tries
    are RATE_LIMITED; anything else goes on to the operation's own mapping."""

    @functools.wraps(operation)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except ClientError as e:
            if _code(e) in TRANSIENT:
                logger.warning("cognito unavailable", extra={"error": _code(e)})
                raise DomainError(Code.UNAVAILABLE) from e
            if _code(e) in TOO_OFTEN:
                raise DomainError(Code.RATE_LIMITED, detail={"retry_after_s": 60}) from e
            raise
        except BotoCoreError as e:  # no answer at all
            logger.warning("cognito unreachable", extra={"error": type(e).__name__})
            raise DomainError(Code.UNAVAILABLE) from e

    return call  # type: ignore[return-value]


def _bad_code() -> DomainError:
    return validation("The code is not valid, or has expired.", {"code": "not valid"})


def _bad_password(e: ClientError, password: str) -> DomainError:
    return passwords.refusal(password, _message(e)[:200])


def _invalid_parameter(e: ClientError) -> DomainError:
    return validation("The request is not valid.", {"request": _message(e)[:200]})


def _unauthorized(e: ClientError) -> DomainError:
    if "disabled" in _message(e).lower():
        return DomainError(Code.FORBIDDEN, "The account is disabled.")
    return DomainError(Code.UNAUTHORIZED, "Incorrect email or password.")


def _attributes(attributes: list[dict[str, str]]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in attributes or []}


def _account(user: dict[str, Any], attributes_key: str) -> Account:
    attributes = _attributes(user.get(attributes_key, []))
    # GetUser answers only for a confirmed account, and without a status.
    confirmed = user.get("UserStatus", "CONFIRMED") != "UNCONFIRMED"
    return Account(
        account_id=attributes.get("sub", user.get("Username", "")),
        email=attributes.get("email", ""),
        name=attributes.get("name", ""),
        confirmed=confirmed,
        # AWS marks the email verified when the code mailed to it confirms the registration (moto
        # does not: the local stack and the tests make it, local.accounts.confirming_as_cognito).
        email_verified=attributes.get("email_verified") == "true",
        created_at=user.get("UserCreateDate"),
        enabled=user.get("Enabled", True),
    )


# Registration ----------------------------------------------------------------------------------


@cognito
def sign_up(email: str, password: str, name: str) -> bool:
    """Register; Cognito mails the validation code. False when the email already has an
    account (nothing changed)."""
    try:
        client().sign_up(
            ClientId=_app_client(),
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": name}],
        )
    except ClientError as e:
        if _code(e) == "UsernameExistsException":
            return False
        if _code(e) == "InvalidPasswordException":
            raise _bad_password(e, password) from e
        if _code(e) == "InvalidParameterException":
            raise _invalid_parameter(e) from e
        raise
    return True


@cognito
def confirm_sign_up(email: str, code: str) -> None:
    """The validation code of the registration. Any refusal (wrong or expired code, no such
    account, already confirmed) is the same answer."""
    try:
        client().confirm_sign_up(ClientId=_app_client(), Username=email, ConfirmationCode=code)
    except ClientError as e:
        if _code(e) in (
            "CodeMismatchException",
            "ExpiredCodeException",
            "UserNotFoundException",
            "NotAuthorizedException",
            "InvalidParameterException",
            "AliasExistsException",
        ):
            raise _bad_code() from e
        raise


@cognito
def find_account(email_or_id: str) -> Account | None:
    """The account by its email (or id), confirmed or not; None when there is none."""
    try:
        user = client().admin_get_user(UserPoolId=_pool(), Username=email_or_id)
    except ClientError as e:
        if _code(e) == "UserNotFoundException":
            return None
        raise
    return _account(user, "UserAttributes")


@cognito
def delete_account(username: str) -> bool:
    """Delete an account (the 24-hour rule); False when it was already gone."""
    try:
        client().admin_delete_user(UserPoolId=_pool(), Username=username)
    except ClientError as e:
        if _code(e) == "UserNotFoundException":
            return False
        raise
    return True


@cognito
def unconfirmed_registrations() -> Iterator[tuple[str, Account]]:
    """Every registration never confirmed, with its username, page by page (ListUsers filters on
    the status; there is no filter on the creation date)."""
    token = None
    while True:
        page = client().list_users(
            UserPoolId=_pool(),
            Filter='cognito:user_status = "UNCONFIRMED"',
            Limit=60,
            **({"PaginationToken": token} if token else {}),
        )
        for user in page.get("Users", []):
            yield user["Username"], _account(user, "Attributes")
        token = page.get("PaginationToken")
        if not token:
            return


# Sessions --------------------------------------------------------------------------------------


def _session(result: dict[str, Any], refresh_token: str | None = None) -> Session:
    auth = result.get("AuthenticationResult") or {}
    if not auth.get("AccessToken"):
        # A challenge (a new password required, MFA): this API signs in with a password only.
        raise DomainError(
            Code.FORBIDDEN,
            "The account needs a step this API does not offer.",
            detail={"challenge": result.get("ChallengeName")},
        )
    return Session(
        auth["AccessToken"],
        auth.get("RefreshToken") or refresh_token,
        int(auth.get("ExpiresIn", 3600)),
        auth.get("IdToken"),
    )


@cognito
def sign_in(email: str, password: str) -> Session:
    try:
        result = client().initiate_auth(
            ClientId=_app_client(),
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
    except ClientError as e:
        if _code(e) == "UserNotConfirmedException":
            raise DomainError(Code.FORBIDDEN, "The account is not confirmed.") from e
        if _code(e) in (
            "NotAuthorizedException",
            "UserNotFoundException",
            "InvalidParameterException",
            "PasswordResetRequiredException",
        ):
            raise _unauthorized(e) from e
        raise
    return _session(result)


@cognito
def refresh(refresh_token: str) -> Session:
    try:
        result = client().initiate_auth(
            ClientId=_app_client(), AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token}
        )
    except ClientError as e:
        if _code(e) in ("NotAuthorizedException", "UserNotFoundException", "InvalidParameterException"):
            raise DomainError(Code.UNAUTHORIZED, "The refresh token is not valid.") from e
        raise
    except KeyError as e:  # moto: a refresh token it never issued
        raise DomainError(Code.UNAUTHORIZED, "The refresh token is not valid.") from e
    return _session(result, refresh_token)


def _token_refused(e: ClientError) -> DomainError:
    return DomainError(Code.UNAUTHORIZED, "The access token is not valid.")


@cognito
def sign_out(access_token: str) -> None:
    """Every session of the account ends: its refresh tokens are revoked, its access tokens
    refused by Cognito (ours expire within the hour they were issued for)."""
    try:
        client().global_sign_out(AccessToken=access_token)
    except ClientError as e:
        if _code(e) in ("NotAuthorizedException", "UserNotFoundException"):
            raise _token_refused(e) from e
        raise


# Passwords -------------------------------------------------------------------------------------


@cognito
def forgot_password(email: str) -> None:
    """Cognito mails a reset code. Nothing is said of an email without an account (with the app
    client's PreventUserExistenceErrors, AWS answers the same; moto says UserNotFound)."""
    try:
        client().forgot_password(ClientId=_app_client(), Username=email)
    except ClientError as e:
        if _code(e) in ("UserNotFoundException", "NotAuthorizedException", "InvalidParameterException"):
            return
        raise


@cognito
def confirm_forgot_password(email: str, code: str, password: str) -> None:
    try:
        client().confirm_forgot_password(
            ClientId=_app_client(), Username=email, ConfirmationCode=code, Password=password
        )
    except ClientError as e:
        if _code(e) == "InvalidPasswordException":
            raise _bad_password(e, password) from e
        if _code(e) in (
            "CodeMismatchException",
            "ExpiredCodeException",
            "UserNotFoundException",
            "NotAuthorizedException",
            "InvalidParameterException",
            "ResourceNotFoundException",
        ):
            raise _bad_code() from e
        raise


# The account itself (with its own access token) -------------------------------------------------


@cognito
def get_account(access_token: str) -> Account:
    try:
        user = client().get_user(AccessToken=access_token)
    except ClientError as e:
        if _code(e) in ("NotAuthorizedException", "UserNotFoundException"):
            raise _token_refused(e) from e
        raise
    return _account(user, "UserAttributes")


@cognito
def update_attributes(access_token: str, *, name: str | None = None, email: str | None = None) -> None:
    """Change the name, or ask for a new email (Cognito mails a code to it; with
    ``AttributesRequireVerificationBeforeUpdate`` the old email stays until it is verified)."""
    attributes = [{"Name": k, "Value": v} for k, v in (("name", name), ("email", email)) if v is not None]
    try:
        client().update_user_attributes(AccessToken=access_token, UserAttributes=attributes)
    except ClientError as e:
        if _code(e) in ("NotAuthorizedException", "UserNotFoundException"):
            raise _token_refused(e) from e
        if _code(e) == "AliasExistsException":
            raise DomainError(Code.CONFLICT, "Another account has this email.") from e
        if _code(e) == "InvalidParameterException":
            raise _invalid_parameter(e) from e
        raise


@cognito
def verify_email(access_token: str, code: str) -> None:
    try:
        client().verify_user_attribute(AccessToken=access_token, AttributeName="email", Code=code)
    except ClientError as e:
        if _code(e) in ("NotAuthorizedException", "UserNotFoundException"):
            raise _token_refused(e) from e
        if _code(e) == "AliasExistsException":
            raise DomainError(Code.CONFLICT, "Another account has this email.") from e
        if _code(e) in ("CodeMismatchException", "ExpiredCodeException", "InvalidParameterException"):
            raise _bad_code() from e
        raise


# The pool's signing keys ------------------------------------------------------------------------


def issuer() -> str:
    """The ``iss`` of the pool's tokens (moto's are the same, in process and as a server)."""
    pool = _pool()
    region = pool.split("_", 1)[0] if "_" in pool else get_settings().region
    return f"https://cognito-idp.{region}.amazonaws.com/{pool}"


def jwks_url() -> str:
    """Where the pool publishes its keys: AWS's issuer URL, or the endpoint's (moto's server
    serves ``<endpoint>/<pool id>/.well-known/jwks.json``)."""
    endpoint = get_settings().aws_endpoint_url
    base = f"{endpoint.rstrip('/')}/{_pool()}" if endpoint else issuer()
    return f"{base}/.well-known/jwks.json"


def json_web_keys() -> dict[str, Any]:
    """The pool's public keys (a JWK set). Sent through the cognito-idp client's own event
    hooks before going out, as botocore sends its calls: so moto in process answers it, and
    otherwise the request goes to AWS (or to moto's server, which recognises a Cognito request
    by the service named in its Authorization header)."""
    headers = {"Accept": "application/json"}
    if get_settings().aws_endpoint_url:
        headers["Authorization"] = (
            "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/cognito-idp/aws4_request, "
            "SignedHeaders=host, Signature=none"
        )
    request = AWSRequest(method="GET", url=jwks_url(), headers=headers).prepare()
    try:
        _, response = client().meta.events.emit_until_response(
            "before-send.cognito-idp.GetJsonWebKeys", request=request
        )
        if response is None:
            response = URLLib3Session(timeout=5).send(request)
        if response.status_code != 200:
            raise DomainError(Code.UNAVAILABLE)
        return json.loads(response.content)
    except (BotoCoreError, ValueError) as e:
        logger.warning("user pool keys unavailable", extra={"error": type(e).__name__})
        raise DomainError(Code.UNAVAILABLE) from e


# The pool itself, where nothing else makes it (the local stack, the tests) -----------------------


def create_user_pool(name: str) -> tuple[str, str]:
    """The user pool ``name`` and its app client, made as the stack makes them (sign-in by email,
    email verified by a code, the stack's password policy, no client secret, USER_PASSWORD_AUTH
    and REFRESH_TOKEN_AUTH), or found when they exist. Returns (user pool id, app client id)."""
    idp = client()
    pool_id = next(
        (
            p["Id"]
            for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60)
            for p in page["UserPools"]
            if p["Name"] == name
        ),
        None,
    )
    if pool_id is None:
        pool_id = idp.create_user_pool(
            PoolName=name,
            UsernameAttributes=["email"],
            AutoVerifiedAttributes=["email"],
            UsernameConfiguration={"CaseSensitive": False},
            UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
            Policies={"PasswordPolicy": passwords.PASSWORD_POLICY},
            AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
        )["UserPool"]["Id"]
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == name), None)
    if client_id is None:
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=name,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
            AccessTokenValidity=60,
            TokenValidityUnits={"AccessToken": "minutes"},
        )["UserPoolClient"]["ClientId"]
    return pool_id, client_id
