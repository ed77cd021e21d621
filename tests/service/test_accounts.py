"""Accounts (the seed's Kemp ID, section 2) on moto's Cognito, through the API.

moto's Cognito differs from AWS's where it matters to a test, and each test says how: its
ConfirmSignUp takes any code (AWS checks the one it mailed), and its password-reset codes are
checked only when they have its ``moto-confirmation-code:`` shape. These tests prove our side:
what reaches Cognito, what we do with its answer, and that we answer the same whatever it knows.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import PASSWORD


def _backend_user(email: str):
    """moto's record of the account (what AWS would have mailed is there)."""
    from moto.cognitoidp.models import cognitoidp_backends

    for pool in cognitoidp_backends["123456789012"]["us-east-1"].user_pools.values():
        user = pool._get_user(email)
        if user is not None:
            return user
    return None


# Registration ------------------------------------------------------------------------------------


def test_a_registered_and_confirmed_account_signs_in_and_reads_itself(api, accounts):
    # Given
    assert accounts.register("pat@acme.example", name="Pat").status == 202
    assert accounts.confirm("pat@acme.example").status == 200

    # When
    session = accounts.sign_in("pat@acme.example")
    me = api.get("/v1/account", headers={"Authorization": f"Bearer {session.body['access_token']}"})

    # Then
    assert session.status == 200 and session.body["expires_in"] > 0 and session.body["refresh_token"]
    assert me.status == 200
    assert me.body["email"] == "pat@acme.example" and me.body["name"] == "Pat" and me.body["tenants"] == []
    assert me.body["email_verified"] is True


def test_confirming_a_registration_verifies_its_email_in_cognito_as_aws_does(api, accounts):
    # The code went to the email: AWS's ConfirmSignUp sets email_verified (the tests' moto too).
    accounts.register("pat@acme.example")
    before = dict(_backend_user("pat@acme.example").attribute_lookup)

    accounts.confirm("pat@acme.example")

    assert "email_verified" not in before
    assert _backend_user("pat@acme.example").attribute_lookup["email_verified"] == "true"


def test_registering_an_email_that_has_an_account_answers_the_same_and_changes_nothing(api, accounts):
    # Given
    accounts.signed_up("taken@acme.example")

    # When
    again = accounts.register("taken@acme.example", password="Another-pass-99", name="Mallory")
    fresh = accounts.register("fresh@acme.example")

    # Then: the same status and body; the account keeps its password
    assert (again.status, again.body) == (fresh.status, fresh.body) == (202, fresh.body)
    assert accounts.sign_in("taken@acme.example").status == 200
    assert accounts.sign_in("taken@acme.example", "Another-pass-99").status == 401


def test_an_unconfirmed_registration_is_made_afresh_by_registering_again(api, accounts):
    # Given: someone registered the email and never confirmed
    accounts.register("squat@acme.example", password="Squatter-pass-1")

    # When: the mailbox's owner registers it
    assert accounts.register("squat@acme.example", password="Owner-pass-22").status == 202
    accounts.confirm("squat@acme.example")

    # Then: the owner's password is the one
    assert accounts.sign_in("squat@acme.example", "Owner-pass-22").status == 200
    assert accounts.sign_in("squat@acme.example", "Squatter-pass-1").status == 401


def test_a_password_that_fails_the_policy_is_a_validation_error_naming_the_rule(api, accounts):
    reply = accounts.register("weak@acme.example", password="short")

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"
    assert reply.body["error"]["message"] == (
        "The password does not meet the password policy: at least 12 characters, "
        "with a lowercase letter, an uppercase letter and a number."
    )
    assert reply.body["error"]["detail"]["fields"] == {
        "password": "needs at least 12 characters, an uppercase letter, a number"
    }
    assert reply.body["error"]["detail"]["broken"] == ["minimum_length", "require_uppercase", "require_numbers"]
    assert "short" not in str(reply.body)
    assert accounts.register("weak@acme.example", password="Long-enough-1").status == 202  # nothing was kept


def test_the_password_policy_is_published_as_the_refusals_name_it(api, accounts):
    published = api.get("/v1/accounts/password-policy")
    refused = accounts.register("weak@acme.example", password="short")

    assert published.status == 200
    assert published.body == refused.body["error"]["detail"]["password_policy"]
    assert {
        k: published.body[k]
        for k in ("minimum_length", "require_lowercase", "require_uppercase", "require_numbers", "require_symbols")
    } == {
        "minimum_length": 12,
        "require_lowercase": True,
        "require_uppercase": True,
        "require_numbers": True,
        "require_symbols": False,
    }
    assert [r["name"] for r in published.body["rules"]] == [
        "minimum_length",
        "require_lowercase",
        "require_uppercase",
        "require_numbers",
    ]
    assert published.body["description"] in refused.body["error"]["message"]


def test_the_published_policy_is_in_the_openapi_document(api):
    document = api.get("/openapi.json").body

    operation = document["paths"]["/v1/accounts/password-policy"]["get"]

    assert "security" not in operation  # anyone may read it
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PasswordPolicyResponse"}
    assert set(document["components"]["schemas"]["PasswordPolicyResponse"]["required"]) >= {
        "minimum_length",
        "require_lowercase",
        "require_uppercase",
        "require_numbers",
        "require_symbols",
        "rules",
    }


@pytest.mark.parametrize(
    "password, broken",
    [
        ("correct-horse-42", ["require_uppercase"]),  # the tests' password before the stack's policy
        ("CORRECT-HORSE-42", ["require_lowercase"]),
        ("Correct-horse-xx", ["require_numbers"]),
        ("Horse-42abcd", []),  # 12 characters exactly
    ],
)
def test_the_test_pool_refuses_what_the_stacks_policy_refuses(user_pool, password, broken):
    # moto checks the pool's own policy at SignUp (InvalidPasswordException), as AWS does.
    import boto3
    from botocore.exceptions import ClientError

    idp = boto3.client("cognito-idp", region_name="us-east-1")
    try:
        idp.sign_up(ClientId=user_pool[1], Username="direct@acme.example", Password=password)
        refused = None
    except ClientError as e:
        refused = e.response["Error"]["Code"]

    assert refused == ("InvalidPasswordException" if broken else None)


def test_a_weak_password_is_refused_alike_whether_or_not_the_email_has_an_account(api, accounts):
    # Cognito says an email is taken before it looks at the password: the service checks first.
    accounts.signed_up("taken@acme.example")

    taken = accounts.register("taken@acme.example", password="weak-pass-1")
    fresh = accounts.register("fresh@acme.example", password="weak-pass-1")

    assert (taken.status, taken.body) == (fresh.status, fresh.body)
    assert taken.status == 400 and taken.code == "VALIDATION_ERROR"


def test_a_reset_to_a_password_that_fails_the_policy_is_refused_naming_the_rule(api, accounts):
    accounts.signed_up("pat@acme.example")
    api.post("/v1/accounts/password-reset", {"email": "pat@acme.example"})
    code = _backend_user("pat@acme.example").confirmation_code

    reply = api.post(
        "/v1/accounts/password-reset/confirm", {"email": "pat@acme.example", "code": code, "password": "NOLOWERCASE-42"}
    )

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"
    assert reply.body["error"]["detail"]["fields"] == {"password": "needs a lowercase letter"}
    assert accounts.sign_in("pat@acme.example").status == 200  # the old password still works


def test_a_refused_confirmation_is_400_whatever_the_reason(api, accounts):
    # moto confirms with any code; an email with no account is refused by Cognito as AWS does.
    reply = api.post("/v1/accounts/confirm", {"email": "nobody@acme.example", "code": "123456"})

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"


# Sessions ------------------------------------------------------------------------------------------


def test_wrong_credentials_are_401_and_an_unknown_email_gets_the_same_answer(api, accounts):
    accounts.signed_up("pat@acme.example")

    wrong = accounts.sign_in("pat@acme.example", "not-the-password-1")
    unknown = accounts.sign_in("nobody@acme.example", "not-the-password-1")

    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body


def test_an_unconfirmed_account_cannot_sign_in(api, accounts):
    accounts.register("early@acme.example")

    reply = accounts.sign_in("early@acme.example")

    assert reply.status == 403 and reply.code == "FORBIDDEN"


def test_a_refresh_token_gives_a_new_access_token_that_works(api, accounts):
    person = accounts.signed_up("pat@acme.example")

    refreshed = api.post("/v1/sessions/refresh", {"refresh_token": person.refresh_token})
    me = api.get("/v1/account", headers={"Authorization": f"Bearer {refreshed.body['access_token']}"})

    assert refreshed.status == 200 and refreshed.body["access_token"] != person.access_token
    assert me.status == 200 and me.body["account_id"] == person.account_id


def test_a_refresh_token_that_is_not_one_is_401(api, accounts):
    reply = api.post("/v1/sessions/refresh", {"refresh_token": "not-a-refresh-token"})

    assert reply.status == 401 and reply.code == "UNAUTHORIZED"


def test_signing_out_revokes_the_refresh_tokens(api, accounts):
    person = accounts.signed_up("pat@acme.example")

    out = api.delete("/v1/sessions", headers=person.headers)
    refreshed = api.post("/v1/sessions/refresh", {"refresh_token": person.refresh_token})

    assert out.status == 200
    assert refreshed.status == 401


# Passwords -----------------------------------------------------------------------------------------


def test_a_password_reset_answers_the_same_whether_or_not_the_email_has_an_account(api, accounts):
    accounts.signed_up("pat@acme.example")

    known = api.post("/v1/accounts/password-reset", {"email": "pat@acme.example"})
    unknown = api.post("/v1/accounts/password-reset", {"email": "nobody@acme.example"})

    assert (known.status, known.body) == (unknown.status, unknown.body)
    assert known.status == 202


def test_the_reset_code_sets_a_new_password_and_a_wrong_code_does_not(api, accounts):
    # The code is the one moto keeps where AWS would have mailed it.
    accounts.signed_up("pat@acme.example")
    api.post("/v1/accounts/password-reset", {"email": "pat@acme.example"})
    code = _backend_user("pat@acme.example").confirmation_code

    wrong = api.post(
        "/v1/accounts/password-reset/confirm",
        {"email": "pat@acme.example", "code": "moto-confirmation-code:000000", "password": "New-pass-123"},
    )
    right = api.post(
        "/v1/accounts/password-reset/confirm", {"email": "pat@acme.example", "code": code, "password": "New-pass-123"}
    )

    assert wrong.status == 400 and wrong.code == "VALIDATION_ERROR"
    assert right.status == 200
    assert accounts.sign_in("pat@acme.example", "New-pass-123").status == 200
    assert accounts.sign_in("pat@acme.example", PASSWORD).status == 401


# The account ---------------------------------------------------------------------------------------


def test_the_name_changes_at_once(api, accounts):
    person = accounts.signed_up("pat@acme.example", name="Pat")

    reply = api.patch("/v1/account", {"name": "Patricia"}, headers=person.headers)

    assert reply.status == 200 and reply.body["name"] == "Patricia"
    assert api.get("/v1/account", headers=person.headers).body["name"] == "Patricia"


def test_a_new_email_is_verified_by_its_code_and_then_shown_in_the_members_list(api, accounts, verify_user_attribute):
    # moto's VerifyUserAttribute takes any code (AWS checks the one it mailed to the new email).
    # moto also switches the email at once and then refuses the tokens issued to the old one;
    # AWS keeps the old email (AttributesRequireVerificationBeforeUpdate) and its tokens until
    # the code is confirmed. So the confirmation is sent here with a token of the new email.
    person, _keys = accounts.owning("old@acme.example")
    changed = api.patch("/v1/account", {"email": "new@acme.example"}, headers=person.headers)
    assert changed.status == 200 and changed.body["pending_email"] == "new@acme.example"
    token = accounts.sign_in("new@acme.example").body["access_token"]

    confirmed = api.post("/v1/account/email/confirm", {"code": "123456"}, headers={"Authorization": f"Bearer {token}"})
    listed = api.get("/v1/members", headers={"Authorization": f"Bearer {token}"})

    assert confirmed.status == 200 and confirmed.body["email"] == "new@acme.example"
    assert [m["email"] for m in listed.body["members"]] == ["new@acme.example"]
    assert accounts.sign_in("new@acme.example").status == 200


def test_an_update_with_nothing_to_change_is_a_validation_error(api, accounts):
    person = accounts.signed_up("pat@acme.example")

    reply = api.patch("/v1/account", {}, headers=person.headers)

    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"


def test_the_account_routes_need_an_access_token(api, accounts, new_tenant):
    keys = new_tenant()

    none = api.get("/v1/account")
    api_key = api.get("/v1/account", headers=keys.admin)

    assert none.status == 401
    assert api_key.status == 403 and api_key.code == "FORBIDDEN"


# Without a user pool ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/v1/accounts", {"email": "pat@acme.example", "password": PASSWORD, "name": "Pat"}),
        ("POST", "/v1/sessions", {"email": "pat@acme.example", "password": PASSWORD}),
        ("POST", "/v1/accounts/password-reset", {"email": "pat@acme.example"}),
        ("GET", "/v1/accounts/password-policy", None),
    ],
)
def test_without_a_user_pool_the_account_routes_do_not_exist_and_the_rest_works(api, new_tenant, method, path, body):
    # Given: the aws fixture's settings have no COGNITO_USER_POOL_ID
    keys = new_tenant()

    reply = api.call(method, path, body)

    assert reply.status == 404 and reply.code == "NOT_FOUND"
    assert "not enabled" in reply.body["error"]["message"]
    assert api.get("/v1/license", headers=keys.admin).status == 200


def test_no_password_or_code_reaches_the_log(api, accounts, log_lines):
    accounts.signed_up("pat@acme.example")
    api.post(
        "/v1/accounts/password-reset/confirm",
        {"email": "pat@acme.example", "code": "moto-confirmation-code:424242", "password": "Secret-pass-777"},
    )

    assert PASSWORD not in log_lines.text
    assert "Secret-pass-777" not in log_lines.text and "424242" not in log_lines.text


def test_a_token_is_verified_without_waiting(accounts):
    # The verification reads the wall clock Cognito signs by, not the service's test clock.
    assert time.time() > 0
