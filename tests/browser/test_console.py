"""The web console in headless Chromium: sign in, the license, the devices (filters, paging,
unblock, delete), the usage chart and its CSV, the debug log, the operator's tenants, errors in
words, a narrow screen and the keyboard. The tests of this module share one stack and its seeded
tenant, which they only read; unblocking, deleting and rotating a key happen in a tenant of the
test's own (``own_tenant``), so the tests pass in any order and alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.browser.conftest import HTTP_TIMEOUT_S, Console, Seeded, add_device, device_call, run_sweep

pytestmark = pytest.mark.browser

ROWS = "#devices-table tbody tr[data-device-id]"


def row(console: Console, name: str):
    return console.page.locator(f'{ROWS}[data-device-id="{console.seeded.devices[name]["device_id"]}"]')


def wait_rows(console: Console, count: int) -> None:
    # A function, not an expression: the console's CSP has no 'unsafe-eval'.
    console.page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n", arg=[ROWS, count])


WEB = Path(__file__).resolve().parents[2] / "chalicelib" / "web"
IMPORT = re.compile(r'^import [^;]*? from "\./([\w-]+\.js)";', re.M)


def test_the_app_serves_the_console_and_its_assets_as_text(seeded: Seeded):
    expected = {
        "/console": "text/html",
        "/console/console.js": "text/javascript",
        "/console/console.css": "text/css",
        "/console/favicon.svg": "image/svg+xml",
    }
    # Every module the entry point reaches through its imports, and every module in the directory.
    modules, todo = set(), ["console.js"]
    while todo:
        name = todo.pop()
        if name not in modules:
            modules.add(name)
            todo.extend(IMPORT.findall((WEB / name).read_text()))
    assert modules == {p.name for p in WEB.glob("*.js")}, "a module nothing imports, or an import of no module"
    expected.update({f"/console/{name}": "text/javascript" for name in modules})
    for path, content_type in expected.items():
        reply = requests.get(f"{seeded.base_url}{path}", timeout=HTTP_TIMEOUT_S)
        assert reply.status_code == 200, path
        assert reply.headers["Content-Type"].startswith(content_type), path
        assert reply.headers["X-Content-Type-Options"] == "nosniff", path
        assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
    page = requests.get(f"{seeded.base_url}/console", timeout=HTTP_TIMEOUT_S).text
    assert '<script type="module" src="console/console.js"></script>' in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
    # Only the listed files: nothing else of the package, no way out of the directory.
    for path in (
        "/console/app.py",
        "/console/console.html",
        "/console/..%2Fapi%2Fconsole.py",
        "/console/../app.py",
        "/console/%2e%2e/settings.py",
        "/console/nothing.js",
    ):
        assert requests.get(f"{seeded.base_url}{path}", timeout=HTTP_TIMEOUT_S).status_code in (403, 404), path
    documented = requests.get(f"{seeded.base_url}/openapi.json", timeout=HTTP_TIMEOUT_S).json()["paths"]
    assert "text/html" in documented["/console"]["get"]["responses"]["200"]["content"]


def test_a_tenant_admin_signs_in_and_sees_the_license(console: Console):
    page = console.open().page
    console.screenshot("signin")

    console.sign_in()

    page.wait_for_selector("#license-types .type")
    assert page.url.endswith("/console#license")
    cards = page.inner_text("#license-cards")
    assert "TRIAL" in cards
    assert re.search(r"Trial days left\s+(29|30)\b", cards), cards
    assert re.search(r"Capacity\s+5\b", cards), cards
    assert re.search(r"In use\s+3\b", cards), cards  # alpha, bravo (ACTIVE) and echo (PENDING)
    types = page.inner_text("#license-types")
    assert "VLM-MAX-SPLA" in types and "3 / 5" in types
    assert page.locator("#license-types .bar .fill").count() == 1
    assert "1 day" in page.inner_text("#settings")
    # The key lives in this tab's sessionStorage only: never in the URL, never in localStorage.
    assert console.seeded.api_key not in page.url
    assert page.evaluate("sessionStorage.getItem('licensing.console.key')") == console.seeded.api_key
    assert page.evaluate("localStorage.length") == 0
    console.screenshot("license")
    console.assert_no_errors()

    page.reload()  # the session survives a reload of the tab
    page.wait_for_selector("#license-types .type")
    page.click("#sign-out")
    page.wait_for_selector("#screen-signin:not([hidden])")
    assert page.evaluate("sessionStorage.length") == 0


def test_a_wrong_key_is_refused_in_words(console: Console):
    page = console.open().page

    console.sign_in("lk_api.not-a-real-key", expect="#signin-error")

    assert page.inner_text("#signin-error") == "Sign-in failed: Invalid credentials."
    assert page.is_hidden("#nav")


def test_the_devices_table_with_filters_and_paging(console: Console):
    page = console.open().sign_in().go("devices").page
    seeded = console.seeded
    wait_rows(console, len(seeded.devices))

    blocked = row(console, "delta")
    assert blocked.get_attribute("data-status") == "BLOCKED"
    assert "blocked" in blocked.get_attribute("class")  # stands out
    assert blocked.locator("button[data-action=unblock]").count() == 1
    assert page.locator(f"{ROWS} button[data-action=unblock]").count() == 1  # only the BLOCKED one
    alpha = row(console, "alpha")
    cells = alpha.locator("td").all_inner_texts()
    assert cells[0].startswith("ACTIVE")
    assert cells[1:5] == ["00:50:56:c0:ff:01", "10.20.0.1:443", "VLM-MAX-SPLA", "Trial VLM-MAX-SPLA"]
    assert cells[5] != "—" and "never" not in cells[5]  # it checked in
    assert "never" in row(console, "echo").locator("td").nth(5).inner_text()
    console.screenshot("devices")

    page.select_option("#device-filters select[name=status]", "BLOCKED")
    page.click("#device-filters button[type=submit]")
    wait_rows(console, 1)
    assert row(console, "delta").count() == 1

    page.click("#device-filters button[type=reset]")
    wait_rows(console, len(seeded.devices))

    # Paging with the API's `next` cursor.
    page.select_option("#device-filters select[name=limit]", "10")
    page.click("#device-filters button[type=submit]")
    wait_rows(console, 10)
    first_page = set(page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.deviceId)"))
    assert page.is_enabled("#devices-next")
    page.click("#devices-next")
    wait_rows(console, len(seeded.devices) - 10)
    second_page = set(page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.deviceId)"))
    assert first_page.isdisjoint(second_page)
    assert first_page | second_page == {d["device_id"] for d in seeded.devices.values()}
    assert page.is_disabled("#devices-next")
    assert page.inner_text("#devices-page") == "Page 2"
    page.click("#devices-first")
    wait_rows(console, 10)
    console.assert_no_errors()


def test_a_blocked_device_is_unblocked_after_a_confirmation(console: Console, own_tenant):
    # Given a device that missed its confirm window of one minute and was blocked by the sweep
    # (the seeded tenant's devices have a day: the sweep five minutes ahead blocks none of them).
    tenant = own_tenant(confirm_window_s=60)
    add_device(tenant, "delta")
    report = run_sweep(tenant.stack, "block_unconfirmed", datetime.now(UTC) + timedelta(minutes=5))
    assert report["block_unconfirmed"]["acted"] == 1, report
    page = console.as_tenant(tenant).open().sign_in().go("devices").page
    blocked = row(console, "delta")
    blocked.wait_for()

    blocked.locator("button[data-action=unblock]").click()
    page.wait_for_selector("#confirm[open]")
    assert "Unblock" in page.inner_text("#confirm-title")
    page.click("#confirm-ok")

    page.wait_for_selector("#banner.ok:not([hidden])")
    assert "unblocked" in page.inner_text("#banner")
    page.wait_for_function(
        "sel => document.querySelector(sel)?.dataset.status === 'DEACTIVATED'",
        arg=f'{ROWS}[data-device-id="{tenant.devices["delta"]["device_id"]}"]',
    )
    assert tenant.device("delta")["status"] == "DEACTIVATED"

    row(console, "delta").locator("td").nth(6).locator("button").click()  # its details and history
    page.wait_for_selector("#device-dialog[open] ul.history li")
    details = page.inner_text("#device-dialog")
    assert "Device unblocked" in details and "Device blocked" in details and "not confirmed in time" in details
    page.keyboard.press("Escape")
    console.assert_no_errors()


def test_a_device_is_deleted_only_once_confirmed(console: Console, own_tenant):
    tenant = own_tenant()
    device_call(tenant.stack, add_device(tenant, "bravo"), "confirm")  # ACTIVE: deleting it gives its instance back
    page = console.as_tenant(tenant).open().sign_in().go("devices").page
    bravo = row(console, "bravo")
    bravo.wait_for()
    in_use = tenant.get("/v1/license").json()["in_use"]

    bravo.locator("button[data-action=delete]").click()
    page.wait_for_selector("#confirm[open]")
    page.keyboard.press("Escape")  # cancelled: nothing happens
    page.wait_for_selector("#confirm:not([open])", state="attached")
    assert tenant.device("bravo")["http_status"] == 200

    bravo.locator("button[data-action=delete]").click()
    page.click("#confirm-ok")

    page.wait_for_selector("#banner.ok:not([hidden])")
    assert "deleted" in page.inner_text("#banner")
    bravo.wait_for(state="detached")
    assert tenant.device("bravo")["http_status"] == 404
    assert in_use == 1 and tenant.get("/v1/license").json()["in_use"] == 0
    console.assert_no_errors()


def test_the_usage_chart_its_totals_and_the_csv(console: Console):
    page = console.open().sign_in().go("usage").page
    month = console.seeded.metered_hours[-1][:7]
    assert page.input_value("#usage-month") == month

    page.wait_for_selector("#usage-chart svg path.in-use")
    line = page.get_attribute("#usage-chart svg path.in-use", "d")
    assert line.startswith("M") and "H" in line
    assert page.locator("#usage-chart svg path.capacity").count() == 1
    api = console.seeded.get("/v1/usage", month=month).json()
    [totals] = api["license_types"]
    cells = page.locator("#usage-table tbody tr").first.locator("td").all_inner_texts()
    assert cells[2:] == [
        str(totals["instance_hours"]),
        str(totals["peak_instances"]),
        str(totals["capacity"]),
        str(totals["overage_hours"]),
    ]
    assert "VLM-MAX-SPLA" in page.inner_text("#usage-legend")
    console.screenshot("usage")

    with page.expect_download() as download:
        page.click("#usage-csv")
    assert download.value.suggested_filename == f"usage-{month}.csv"
    csv = download.value.path().read_text()
    assert csv.splitlines()[0].startswith("tenant_id,tenant_name,month,lic_type_id")
    assert console.seeded.api_key not in download.value.url

    page.click("#usage-prev")  # a month without usage: an empty chart that says so
    page.wait_for_selector("#usage-chart svg text.none")
    assert "No hours metered" in page.inner_text("#usage-chart")
    console.assert_no_errors()


def test_the_debug_log_filtered_by_device(console: Console):
    page = console.open().sign_in().go("events").page
    page.wait_for_selector("#events-table tbody tr[data-kind]")
    kinds = page.locator("#events-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert "activation.granted" in kinds and "device.blocked" in kinds
    refusal = page.locator("#events-table tbody tr[data-kind='activation.refused']")
    assert refusal.count() == 1  # the blocked MAC tried again: the seed's words say why
    assert "This LoadMaster cannot be licensed against this Kemp 360 Central at this time." in refusal.inner_text()
    console.screenshot("events")

    delta = console.seeded.devices["delta"]["device_id"]
    page.fill("#event-filters input[name=device_id]", delta)
    page.click("#event-filters button[type=submit]")
    page.wait_for_function(
        "id => [...document.querySelectorAll('#events-table tbody tr')].every("
        "r => r.dataset.kind && r.innerText.includes(id))",
        arg=delta[:8],
    )
    kinds = page.locator("#events-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds[-1] == "activation.granted" and "device.blocked" in kinds  # newest first
    console.assert_no_errors()


def test_the_operator_sees_the_tenants(console: Console):
    page = console.open().sign_in(console.seeded.operator_key).page

    page.wait_for_selector("#tenants-table tbody tr[data-tenant-id]")
    assert page.url.endswith("#tenants")
    assert "Demo Tenant" in page.inner_text("#tenants-table")
    assert page.locator("#nav a[data-screen=devices]").count() == 0
    console.screenshot("tenants")

    console.go("usage")  # every tenant's usage of the month, for billing
    page.wait_for_selector("#usage-table tbody tr td:has-text('Demo Tenant')")
    assert page.locator("#usage-table thead th").first.text_content() == "Tenant"
    console.assert_no_errors()


def test_a_silent_device_stands_out(console: Console):
    """A LoadMaster that missed two check-ins is marked silent (the stack cannot age one, so
    the API's answer is aged on its way to the page)."""
    page = console.open().sign_in().page
    alpha = console.seeded.devices["alpha"]["device_id"]

    def aged(route):
        body = route.fetch().json()
        for device in body["devices"]:
            if device["device_id"] == alpha:
                device["last_check_in_at"] = (datetime.now(UTC) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        route.fulfill(json=body)

    page.route("**/v1/devices?*", aged)
    console.go("devices")
    silent = row(console, "alpha")
    silent.wait_for()
    assert "silent" in silent.get_attribute("class")
    assert "silent" in silent.locator("td").first.inner_text()
    assert "5 h ago" in silent.locator("td").nth(5).inner_text()
    assert page.locator(f"{ROWS}.silent").count() == 1
    console.assert_no_errors()


def test_api_errors_are_shown_in_words(console: Console):
    page = console.open().sign_in().go("devices").page
    page.wait_for_selector(ROWS)

    page.fill("#device-filters input[name=mac]", "not-a-mac")  # the API's VALIDATION_ERROR, with its field
    page.click("#device-filters button[type=submit]")
    page.wait_for_selector("#devices-error:not([hidden])")
    assert "The query is not valid." in page.inner_text("#devices-error")
    assert "mac" in page.inner_text("#devices-error")

    unavailable = {
        "error": {
            "code": "UNAVAILABLE",
            "message": "The service is temporarily unavailable; retry later.",
            "detail": {},
        }
    }
    page.route("**/v1/events?*", lambda route: route.fulfill(status=503, json=unavailable))
    page.route("**/v1/license-types", lambda route: route.abort())
    console.go("events")
    page.wait_for_selector("#events-error:not([hidden])")
    assert "The service is temporarily unavailable; retry later." in page.inner_text("#events-error")
    console.go("license")
    page.wait_for_selector("#license-types .error")
    assert "cannot be reached" in page.inner_text("#license-types")
    assert "TRIAL" in page.inner_text("#license-cards")  # the rest of the screen still shows


def test_a_narrow_screen_and_the_keyboard(browser, seeded: Seeded, shots):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(seeded.console_url)
        page.wait_for_selector("#screen-signin:not([hidden])")

        # Keyboard only: the email field has the focus; the API key is the second tab (Shift+Tab
        # to the tab list, an arrow key to the API key, whose field then has the focus); Enter signs
        # in, Tab reaches the screens.
        assert page.evaluate("document.activeElement.id") == "signin-email"
        page.keyboard.press("Shift+Tab")
        assert page.evaluate("document.activeElement.id") == "tab-account"
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.id") == "tab-key"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "signin-key"
        page.keyboard.type(seeded.api_key)
        page.keyboard.press("Enter")
        page.wait_for_selector("#license-types .type")
        page.evaluate("document.activeElement.blur()")
        for _ in range(8):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.dataset.screen") == "devices":
                break
        else:
            pytest.fail("the Devices link is not reachable with Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector(ROWS)

        # Nothing wider than the screen: the table scrolls inside its own box.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "console-narrow.png"), full_page=True)
        assert page.is_visible("#nav a[data-screen=usage]")
        page.click("#nav a[data-screen=usage]")
        page.wait_for_selector("#usage-chart svg")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert errors == []
    finally:
        context.close()


def test_a_refused_key_signs_out_with_the_reason(console: Console, own_tenant):
    tenant = own_tenant()
    page = console.as_tenant(tenant).open().sign_in().page
    page.wait_for_selector("#license-types .type")
    rotated = requests.post(
        f"{tenant.base_url}/v1/keys/rotate", json={"kind": "api"}, headers=tenant.admin(), timeout=HTTP_TIMEOUT_S
    )
    assert rotated.status_code == 201, rotated.text

    page.click("#nav a[data-screen=devices]")  # its first request is refused: back to the sign-in

    page.wait_for_selector("#screen-signin:not([hidden])")
    assert page.inner_text("#signin-error") == "You were signed out: Invalid credentials."
    assert page.evaluate("sessionStorage.length") == 0
