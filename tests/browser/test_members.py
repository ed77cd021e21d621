"""A tenant's members in the web console: the owner invites (and withdraws an invitation),
changes a role, removes a member (after a confirmation) and transfers the ownership (after a
confirmation), becoming an admin who sees the list read-only; a viewer is offered no write
action anywhere. Each test makes its own
accounts and tenant (``register``, ``Person.create_tenant``), so the tests pass in any order."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Console, Seeded, add_device, join, register, sign_in_as, unique_email

pytestmark = pytest.mark.browser

ROWS = "#members-table tbody tr[data-email]"


@pytest.fixture(scope="module")
def seeded(bare: Seeded) -> Seeded:
    """This module's console tests need no seeded LoadMaster: the stack with its demo account."""
    return bare


def member_row(console: Console, email: str):
    return console.page.locator(f'{ROWS}[data-email="{email}"]')


def wait_role(console: Console, email: str, role: str) -> None:
    console.page.wait_for_function(
        "([sel, role]) => document.querySelector(sel)?.dataset.role === role",
        arg=[f'{ROWS}[data-email="{email}"]', role],
    )


def test_the_owner_invites_changes_a_role_removes_and_transfers_the_ownership(console: Console):
    stack = console.seeded.stack
    owner, bea, carl = register(stack, "olivia"), register(stack, "bea"), register(stack, "carl")
    tenant_id = owner.create_tenant("Members Ltd")["tenant_id"]
    later = unique_email("later")  # no account yet: invited until it registers and confirms
    page = console.open().page
    sign_in_as(console, owner.email, owner.password)
    console.go("members")
    member_row(console, owner.email).wait_for()

    for email, role in ((bea.email, "viewer"), (carl.email, "admin"), (later, "viewer")):
        page.fill("#invite-form input[name=email]", email)
        page.select_option("#invite-form select[name=role]", role)
        page.click("#invite-form button[type=submit]")
        member_row(console, email).wait_for()
        assert member_row(console, email).get_attribute("data-role") == role
    assert member_row(console, later).get_attribute("data-status") == "invited"
    assert owner.members(tenant_id)[bea.email]["role"] == "viewer"

    # An invitation offers nothing to change until it is accepted, and can be withdrawn.
    assert member_row(console, later).locator("button, select").count() == 1
    member_row(console, later).locator("button[data-action=withdraw]").click()
    page.wait_for_selector(f"#banner.ok:not([hidden]):has-text('The invitation of {later} is withdrawn.')")
    member_row(console, later).wait_for(state="detached")
    assert later not in owner.members(tenant_id)

    # A role changes as soon as it is chosen.
    member_row(console, bea.email).locator("select[data-action=role]").select_option("admin")
    page.wait_for_selector(f"#banner.ok:not([hidden]):has-text('{bea.email} is now admin.')")
    wait_role(console, bea.email, "admin")
    assert owner.members(tenant_id)[bea.email]["role"] == "admin"
    console.screenshot("members")

    # Removing asks first: cancelled, nothing happens; confirmed, the member is gone.
    member_row(console, carl.email).locator("button[data-action=remove]").click()
    page.wait_for_selector("#confirm[open]")
    assert "Remove" in page.inner_text("#confirm-title")
    page.click("#confirm-cancel")
    page.wait_for_selector("#confirm:not([open])", state="attached")
    assert carl.email in owner.members(tenant_id)
    member_row(console, carl.email).locator("button[data-action=remove]").click()
    page.click("#confirm-ok")
    member_row(console, carl.email).wait_for(state="detached")
    assert carl.email not in owner.members(tenant_id)

    # Transferring the ownership asks first; then bea owns the tenant and the owner is an admin,
    # who sees the members read-only.
    member_row(console, bea.email).locator("button[data-action=transfer]").click()
    page.wait_for_selector("#confirm[open]")
    assert page.inner_text("#confirm-title") == "Transfer the ownership?"
    assert bea.email in page.inner_text("#confirm-text") and "Members Ltd" in page.inner_text("#confirm-text")
    page.click("#confirm-ok")
    wait_role(console, bea.email, "owner")
    wait_role(console, owner.email, "admin")
    members = owner.members(tenant_id)
    assert members[bea.email]["role"] == "owner" and members[owner.email]["role"] == "admin"
    assert page.is_hidden("#invite-form") and page.is_visible("#members-readonly")
    assert page.locator(f"{ROWS} button, {ROWS} select").count() == 0
    assert "Olivia · admin of Members Ltd" in page.inner_text("#who-label")
    console.assert_no_errors()


def test_an_admin_sees_the_members_read_only(console: Console):
    stack = console.seeded.stack
    owner, admin = register(stack, "owner"), register(stack, "admin")
    tenant_id = owner.create_tenant("Admins Ltd")["tenant_id"]
    join(owner, tenant_id, admin, "admin")
    page = console.open().page
    sign_in_as(console, admin.email, admin.password)

    console.go("members")
    member_row(console, owner.email).wait_for()
    assert member_row(console, owner.email).get_attribute("data-role") == "owner"
    assert page.is_hidden("#invite-form") and page.is_visible("#members-readonly")
    assert page.locator(f"{ROWS} button, {ROWS} select").count() == 0
    console.assert_no_errors()


def test_a_viewer_is_offered_no_write_action(console: Console):
    stack = console.seeded.stack
    owner, viewer = register(stack, "owner"), register(stack, "viewer")
    tenant = owner.create_tenant("Viewers Ltd")
    join(owner, tenant["tenant_id"], viewer, "viewer")
    types = owner.call("GET", "/v1/license-types", tenant_id=tenant["tenant_id"]).json()["license_types"]
    lm = Seeded(
        stack, tenant["api_key"], console.seeded.operator_key, types[0]["lic_type_id"], tenant["activation_key"]
    )
    device = add_device(lm, "echo")  # PENDING: an admin could delete it
    page = console.open().page
    sign_in_as(console, viewer.email, viewer.password)
    page.wait_for_selector("#license-cards .badge.TRIAL")
    assert "· viewer" in page.inner_text("#who-label")

    # No Members screen, even asked for by its address.
    assert page.locator("#nav a[data-screen=members]").count() == 0
    page.evaluate("location.hash = '#members'")
    page.wait_for_function("location.hash === '#license'")
    console.go("devices")
    row = page.locator(f'#devices-table tbody tr[data-device-id="{device["device_id"]}"]')
    row.wait_for()
    assert page.locator("#devices-table button[data-action]").count() == 0  # no Unblock, no Delete

    # The API refuses a viewer's write anyway.
    refused = viewer.call("DELETE", f"/v1/devices/{device['device_id']}", tenant_id=tenant["tenant_id"])
    assert refused.status_code == 403, refused.text
    console.assert_no_errors()
