"""People's accounts in the web console, in headless Chromium against the local stack: register,
confirm with the mailed code, sign in, create the tenant and start its trial; the demo account;
a forgotten password; the session's tokens (sessionStorage only, renewed before they expire);
an account in several tenants; signing out. Each test makes the accounts and tenants it needs
(``register``, ``Person.create_tenant``), so the tests pass in any order and alone.

The codes come from the stack's mailbox (``mailed_code``): moto mails nothing, and its
ConfirmSignUp takes any code, so that a wrong code is refused is not shown here (the service's
tests show the API's side)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.browser.conftest import (
    HTTP_TIMEOUT_S,
    PASSWORD,
    Console,
    Seeded,
    join,
    mailed_code,
    register,
    sign_in_as,
    unique_email,
)

pytestmark = pytest.mark.browser

SESSION_ITEM = "licensing.console.session"


@pytest.fixture(scope="module")
def seeded(bare: Seeded) -> Seeded:
    """This module's console tests need no LoadMaster: the stack with its demo account only."""
    return bare


def session_of(console: Console) -> dict:
    return json.loads(console.page.evaluate(f"sessionStorage.getItem('{SESSION_ITEM}')") or "null")


def test_register_confirm_sign_in_create_the_tenant_and_start_its_trial(console: Console):
    page = console.open().page
    stack = console.seeded.stack
    email = unique_email("newcomer")

    page.click("#link-register")
    page.wait_for_selector("#screen-register:not([hidden])")
    page.fill("#register-name", "New Comer")
    page.fill("#register-email", email)
    page.wait_for_selector("#register-policy li")  # the policy the API publishes
    page.fill("#register-password", "short")
    assert page.locator("#register-policy li.met").count() == 1  # a lowercase letter; the rest not yet
    assert page.inner_text("#register-policy").splitlines() == [
        "At least 12 characters",
        "A lowercase letter",
        "An uppercase letter",
        "A number",
    ]
    page.fill("#register-password", PASSWORD)
    assert page.locator("#register-policy li:not(.met)").count() == 0
    console.screenshot("register")
    page.click("#register-form button[type=submit]")

    # The same neutral answer as for an email that already has an account (below).
    page.wait_for_selector("#screen-verify:not([hidden])")
    neutral = page.inner_text("#confirm-account-notice")
    assert neutral == "If the email can register, a validation code is on its way to it; confirm within 24 hours."
    assert page.input_value("#confirm-account-email") == email
    page.fill("#confirm-account-code", mailed_code(stack, email, "registration"))
    page.click("#confirm-account-form button[type=submit]")

    page.wait_for_selector("#screen-signin:not([hidden]) #signin-notice:not([hidden])")
    assert page.inner_text("#signin-notice") == "The account is confirmed: sign in."
    assert page.input_value("#signin-email") == email
    assert page.evaluate("document.activeElement.id") == "signin-password"
    page.fill("#signin-password", PASSWORD)
    page.click("#account-form button[type=submit]")

    # No tenant yet: create one (the account owns it; its keys are shown once), then the trial.
    page.wait_for_selector("#tenant-form:not([hidden])")
    assert page.is_hidden("#nav")
    page.fill("#tenant-name", "Newcomer Networks")
    page.click("#tenant-form button[type=submit]")
    page.wait_for_selector("#tenant-created:not([hidden])")
    assert page.inner_text("#tenant-keys dd[data-key=api]").startswith("lk_api.")
    console.screenshot("tenant")
    # The email was verified by its confirmation, as in AWS: the owner may start the trial.
    page.click("#tenant-trial")

    page.wait_for_selector("#license-cards .badge.TRIAL")
    assert page.url.endswith("#license")
    assert "trial has started" in page.inner_text("#banner")
    assert "New Comer · owner of Newcomer Networks" in page.inner_text("#who-label")
    nav = page.locator("#nav a").all_inner_texts()
    assert nav == ["License", "Devices", "Usage", "Debug log", "Members"]
    assert page.locator("#tenant-keys dd").count() == 0  # the keys are gone from the page
    # The tokens live in this tab's sessionStorage only: never in the URL, never in localStorage.
    session = session_of(console)
    assert session["access_token"] and session["refresh_token"]
    assert session["access_token"] not in page.url
    assert page.evaluate("localStorage.length") == 0
    console.assert_no_errors()

    # Registering an email that has an account answers the same, in the same words.
    page.click("#sign-out")
    page.wait_for_selector("#screen-signin:not([hidden])")
    page.click("#link-register")
    page.fill("#register-name", "Someone Else")
    page.fill("#register-email", email)
    page.fill("#register-password", PASSWORD)
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#screen-verify:not([hidden])")
    assert page.inner_text("#confirm-account-notice") == neutral


def test_the_demo_account_signs_in_and_a_wrong_password_is_refused_in_words(console: Console):
    info = console.seeded.stack.info
    page = console.open().page
    assert page.evaluate("document.activeElement.id") == "signin-email"

    sign_in_as(console, info["account_email"], "Not-the-password-1", expect="#signin-error:not([hidden])")
    # The API's own words (the same for an email without an account: no enumeration).
    refused = requests.post(
        f"{console.seeded.base_url}/v1/sessions",
        timeout=HTTP_TIMEOUT_S,
        json={"email": unique_email("nobody"), "password": "Not-the-password-1"},
    )
    assert refused.status_code == 401
    assert page.inner_text("#signin-error") == f"Sign-in failed: {refused.json()['error']['message']}"
    assert page.is_hidden("#nav")
    console.errors.clear()  # Chromium logs the refused request; nothing else may go wrong

    sign_in_as(console, info["account_email"], info["account_password"])
    page.wait_for_selector("#license-cards .badge.TRIAL")
    assert "Demo Owner · owner of Demo Tenant" in page.inner_text("#who-label")
    console.go("members")
    page.wait_for_selector("#members-table tbody tr[data-email]")
    me = page.locator(f'#members-table tbody tr[data-email="{info["account_email"]}"]')
    assert me.get_attribute("data-role") == "owner" and "(you)" in me.inner_text()
    assert me.locator("button").count() == 0  # the owner does not remove or demote itself
    assert page.is_visible("#invite-form")
    console.assert_no_errors()


def test_an_unconfirmed_account_is_told_to_confirm(console: Console):
    person = register(console.seeded.stack, "unconfirmed", confirm=False)
    page = console.open().page

    sign_in_as(console, person.email, person.password, expect="#signin-error:not([hidden])")

    assert page.inner_text("#signin-error").startswith("Sign-in failed: ")
    page.click("#signin-error a[href='#verify']")
    page.wait_for_selector("#screen-verify:not([hidden])")
    assert page.input_value("#confirm-account-email") == person.email
    assert page.evaluate("document.activeElement.id") == "confirm-account-code"


def test_a_forgotten_password_is_reset_with_the_mailed_code(console: Console):
    stack = console.seeded.stack
    person = register(stack, "forgetful")
    page = console.open().page

    # An email without an account gets the same answer, in the same words: no enumeration.
    page.click("#link-reset")
    page.wait_for_selector("#screen-reset:not([hidden])")
    page.fill("#reset-email", unique_email("nobody"))
    page.click("#reset-form button[type=submit]")
    page.wait_for_selector("#reset-notice:not([hidden])")
    neutral = page.inner_text("#reset-notice")
    assert neutral == "If the email has an account, a reset code is on its way to it."

    page.click("#screen-reset a[href='#signin']")
    page.fill("#signin-email", person.email)
    page.click("#link-reset")
    page.wait_for_selector("#reset-form:not([hidden])")
    assert page.input_value("#reset-email") == person.email  # carried over from the sign-in page
    page.click("#reset-form button[type=submit]")
    page.wait_for_selector("#reset-confirm-form:not([hidden])")
    assert page.inner_text("#reset-notice") == neutral
    page.fill("#reset-code", mailed_code(stack, person.email, "password reset"))
    new_password = "Another-Horse-43"
    page.fill("#reset-password", new_password)
    assert page.locator("#reset-policy li").count() == 4
    assert page.locator("#reset-policy li:not(.met)").count() == 0
    page.click("#reset-confirm-form button[type=submit]")

    page.wait_for_selector("#screen-signin:not([hidden]) #signin-notice:not([hidden])")
    assert page.inner_text("#signin-notice") == "The password is changed: sign in."
    assert page.input_value("#signin-email") == person.email
    page.fill("#signin-password", new_password)
    page.click("#account-form button[type=submit]")
    page.wait_for_selector("#tenant-form:not([hidden])")  # signed in: an account without a tenant yet
    old = requests.post(
        f"{stack.base_url}/v1/sessions", json={"email": person.email, "password": PASSWORD}, timeout=HTTP_TIMEOUT_S
    )
    assert old.status_code == 401
    console.assert_no_errors()


def test_a_password_the_policy_refuses_is_explained(console: Console):
    page = console.open().page
    page.click("#link-register")
    page.fill("#register-name", "Weak Password")
    page.fill("#register-email", unique_email("weak"))
    page.fill("#register-password", "weakpassword")
    page.click("#register-form button[type=submit]")

    page.wait_for_selector("#register-error:not([hidden])")
    text = page.inner_text("#register-error")
    assert text.startswith("The account could not be created: "), text
    assert (
        "The password does not meet the password policy: at least 12 characters, with a lowercase letter, "
        "an uppercase letter and a number. (password: needs an uppercase letter, a number)"
    ) in text
    assert page.is_visible("#screen-register")


def test_the_access_token_is_renewed_before_it_expires(console: Console):
    owner = register(console.seeded.stack, "renewer")
    owner.create_tenant("Renewer Ltd")
    page = console.open().page
    sign_in_as(console, owner.email, owner.password)
    page.wait_for_selector("#license-cards .badge.TRIAL")
    first = session_of(console)

    # As if the token were about to expire: the console renews it on its timer (a minute ahead).
    page.evaluate(
        """([item, at]) => {
        const kept = JSON.parse(sessionStorage.getItem(item));
        sessionStorage.setItem(item, JSON.stringify({ ...kept, expires_at: at }));
    }""",
        [SESSION_ITEM, 0],
    )
    with page.expect_response("**/v1/sessions/refresh") as renewed:
        page.reload()
    assert renewed.value.status == 200
    page.wait_for_function(
        "([item, token]) => JSON.parse(sessionStorage.getItem(item)).access_token !== token",
        arg=[SESSION_ITEM, first["access_token"]],
    )
    second = session_of(console)
    assert second["refresh_token"] == first["refresh_token"]
    assert second["expires_at"] > first["expires_at"] - 60_000
    page.wait_for_selector("#license-cards .badge.TRIAL")
    # The renewed token is the one the next request carries.
    with page.expect_request("**/v1/devices?*") as sent:
        console.go("devices")
    assert sent.value.headers["authorization"] == f"Bearer {second['access_token']}"
    console.assert_no_errors()


def test_a_refused_refresh_token_signs_out_with_the_reason(console: Console):
    owner = register(console.seeded.stack, "expired")
    owner.create_tenant("Expired Ltd")
    page = console.open().page
    sign_in_as(console, owner.email, owner.password)
    page.wait_for_selector("#license-cards .badge.TRIAL")

    page.evaluate(
        """([item]) => {
        const kept = JSON.parse(sessionStorage.getItem(item));
        sessionStorage.setItem(item, JSON.stringify({ ...kept, expires_at: 0, refresh_token: "not-a-refresh-token" }));
    }""",
        [SESSION_ITEM],
    )
    page.reload()

    page.wait_for_selector("#screen-signin:not([hidden]) #signin-error:not([hidden])")
    assert page.inner_text("#signin-error").startswith("Your session has ended: ")
    assert page.evaluate("sessionStorage.length") == 0
    # Only the refresh was refused: nothing went out without a credential after it.
    assert [e for e in console.errors if "401" in e] == [
        "console.error: Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]


def test_an_account_in_several_tenants_picks_one_and_switches(console: Console):
    stack = console.seeded.stack
    first, second, member = register(stack, "alpha-owner"), register(stack, "bravo-owner"), register(stack, "both")
    alpha = first.create_tenant("Alpha Inc")
    bravo = second.create_tenant("Bravo Inc", trial=False)
    join(first, alpha["tenant_id"], member, "admin")
    join(second, bravo["tenant_id"], member, "viewer")
    page = console.open().page

    sign_in_as(console, member.email, member.password, expect="#tenant-pick:not([hidden])")
    assert page.is_hidden("#nav")
    choices = page.locator("#tenant-list button").all_inner_texts()
    assert sorted(c.split("\n")[0] for c in choices) == ["Alpha Inc", "Bravo Inc"]
    with page.expect_request("**/v1/license") as sent:
        page.click(f"#tenant-list button[data-tenant-id='{alpha['tenant_id']}']")
    assert sent.value.headers["x-tenant-id"] == alpha["tenant_id"]
    page.wait_for_selector("#license-cards .badge.TRIAL")
    assert "· admin" in page.inner_text("#who-label")
    assert page.locator("#nav a[data-screen=members]").count() == 1

    with page.expect_request("**/v1/license") as sent:
        page.select_option("#tenant-switch", bravo["tenant_id"])
    assert sent.value.headers["x-tenant-id"] == bravo["tenant_id"]
    page.wait_for_selector("#license-cards .badge.UNLICENSED")
    assert "· viewer" in page.inner_text("#who-label")
    assert page.locator("#nav a[data-screen=members]").count() == 0
    assert page.locator("#license-trial").count() == 0  # only the owner starts the trial
    page.reload()  # the choice is kept for this tab
    page.wait_for_selector("#license-cards .badge.UNLICENSED")
    assert page.input_value("#tenant-switch") == bravo["tenant_id"]
    page.set_viewport_size({"width": 390, "height": 844})  # the header still fits a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.is_visible("#tenant-switch") and page.is_visible("#sign-out")
    console.assert_no_errors()


def test_signing_out_forgets_the_session_and_revokes_it(console: Console):
    person = register(console.seeded.stack, "leaver")
    page = console.open().page
    sign_in_as(console, person.email, person.password, expect="#tenant-form:not([hidden])")
    refresh_token = session_of(console)["refresh_token"]

    with page.expect_response(lambda r: r.url.endswith("/v1/sessions") and r.request.method == "DELETE") as revoked:
        page.click("#sign-out")
    assert revoked.value.status == 200

    page.wait_for_selector("#screen-signin:not([hidden])")
    assert page.evaluate("sessionStorage.length") == 0
    assert page.is_hidden("#who") and page.is_hidden("#nav")
    renewed = requests.post(
        f"{console.seeded.base_url}/v1/sessions/refresh", json={"refresh_token": refresh_token}, timeout=HTTP_TIMEOUT_S
    )
    assert renewed.status_code == 401, renewed.text
    page.reload()  # nothing kept: the sign-in page again
    page.wait_for_selector("#screen-signin:not([hidden])")
    console.assert_no_errors()


def test_the_owner_starts_the_trial_from_the_license_screen(console: Console):
    stack = console.seeded.stack
    owner, admin = register(stack, "later-trial"), register(stack, "not-owner")
    tenant = owner.create_tenant("Later Trial Ltd", trial=False)
    join(owner, tenant["tenant_id"], admin, "admin")

    # An admin is not offered the trial: only the owner starts it.
    page = console.open().page
    sign_in_as(console, admin.email, admin.password)
    page.wait_for_selector("#license-cards .badge.UNLICENSED")
    assert page.locator("#license-trial").count() == 0
    page.click("#sign-out")
    page.wait_for_selector("#screen-signin:not([hidden])")

    sign_in_as(console, owner.email, owner.password)
    page.wait_for_selector("#license-cards .badge.UNLICENSED")
    page.click("#license-trial")

    page.wait_for_selector("#license-cards .badge.TRIAL")
    assert page.locator("#license-trial").count() == 0
    assert page.locator("#license-types .type").count() == 1
    assert owner.call("GET", "/v1/license", tenant_id=tenant["tenant_id"]).json()["state"] == "TRIAL"
    console.assert_no_errors()
