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
    email_verified_as_aws_does,
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
    page.fill("#register-password", "short")
    assert page.locator("#register-policy li.met").count() == 1  # a lowercase letter; the rest not yet
    assert "At least 12 characters" in page.inner_text("#register-policy")
    page.fill("#register-password", PASSWORD)
    assert page.locator("#register-policy li:not(.met)").count() == 0
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
    email_verified_as_aws_does(stack, email)  # moto's confirmation does not (see the helper)
    page.click("#tenant-trial")

    page.wait_for_selector("#license-cards .badge.TRIAL")
    assert page.url.endswith("#license")
    assert "trial has started" in page.inner_text("#banner")
    assert "New Comer · owner" in page.inner_text("#who-label")
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
    console.screenshot("signin")
    assert page.evaluate("document.activeElement.id") == "signin-email"

    sign_in_as(console, info["account_email"], "Not-the-password-1", expect="#signin-error:not([hidden])")
    # The API's own words (the same for an email without an account: no enumeration).
    refused = requests.post(f"{console.seeded.base_url}/v1/sessions", timeout=HTTP_TIMEOUT_S,
                            json={"email": unique_email("nobody"), "password": "Not-the-password-1"})
    assert refused.status_code == 401
    assert page.inner_text("#signin-error") == f"Sign-in failed: {refused.json()['error']['message']}"
    assert page.is_hidden("#nav")
    console.errors.clear()  # Chromium logs the refused request; nothing else may go wrong

    sign_in_as(console, info["account_email"], info["account_password"])
    page.wait_for_selector("#license-cards .badge.TRIAL")
    assert "Demo Owner · owner · Demo Tenant" in page.inner_text("#who-label")
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
