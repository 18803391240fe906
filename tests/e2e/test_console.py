"""The operator console in a real browser against the running stack: support staff hand out and revoke a link,
an auditor reviews, verifies and exports what happened, an administrator manages API keys and operators.

Operators come from the real CLI (`portico operators create`, one-time password on the last line). Screenshots of
every console page land in .run/e2e/screenshots/console-*.png."""
import asyncio
import csv
import io
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import SCREENSHOTS, TIMEOUT_MS, ConsoleErrors
from tests.factories import create_organization
from tests.integration.stack import ROOT

# The browser logs the 4xx answers the tests provoke on purpose (a wrong password, a forbidden call).
PROVOKED = r"Failed to load resource: the server responded with a status of 4(01|03|22)"
# The audit service sheds reads it cannot start within 10 s (503 `busy`, "try again shortly"): benchmarks on the
# shared machine can cause that, and the page says so in the API's words.
AUDIT_BUSY = r"status of 503 .*/console/api/audit/"
AUDIT_ARRIVAL_S = 60  # the audit log is fed through Kafka; on a just-started stack (consumer groups still joining) it may trail by seconds


def create_operator(role: str) -> tuple[str, str]:
    """A new operator through the CLI: (email, one-time password)."""
    email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    done = subprocess.run(
        [sys.executable, "-m", "portico_cli", "operators", "create", "--email", email, "--role", role],
        capture_output=True, text=True, timeout=60, env=dict(os.environ), cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return email, done.stdout.strip().splitlines()[-1]


async def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=full_page)


async def new_context(browser: Browser, proxy_url: str, width: int = 1280, height: int = 900) -> BrowserContext:
    created = await browser.new_context(viewport={"width": width, "height": height}, locale="en-GB", timezone_id="UTC")
    created.set_default_timeout(TIMEOUT_MS)
    await created.grant_permissions(["clipboard-read", "clipboard-write"], origin=proxy_url)
    return created


async def sign_in_first_time(page: Page, proxy_url: str, email: str, one_time_password: str, *, screenshots: bool = False) -> str:
    """Signs in with the one-time password and replaces it, as the console demands; returns the new password."""
    await page.goto(f"{proxy_url}/console/")
    await expect(page).to_have_url(f"{proxy_url}/console/sign-in")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(one_time_password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{proxy_url}/console/password")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Choose your password")
    await expect(page.get_by_role("navigation", name="Console")).to_have_count(0)
    new_password = f"my own {uuid.uuid4().hex[:12]} password"
    await page.get_by_label("One-time password").fill(one_time_password)
    await page.get_by_label("New password", exact=True).fill(new_password)
    await page.get_by_label("Repeat the new password").fill(new_password + " typo")
    await page.get_by_role("button", name="Save password").click()
    await expect(page.locator("#confirm_password-error")).to_contain_text("differ")
    if screenshots:
        await shot(page, "password")
    await page.get_by_label("Repeat the new password").fill(new_password)
    await page.get_by_role("button", name="Save password").click()
    await expect(page).not_to_have_url(f"{proxy_url}/console/password")
    return new_password


@pytest.fixture(autouse=True)
def patient_assertions() -> Iterator[None]:
    """Pages fill from the API, which answers slower while benchmarks load the machine: assertions wait as
    long as actions do."""
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the other modules


async def api_rows(api: httpx.AsyncClient, organization_id: str) -> list[dict]:
    events, cursor = [], None
    for _ in range(100):
        params = {"organization_id": organization_id, "limit": 500, **({"cursor": cursor} if cursor else {})}
        answer = (await api.get("/api/v1/audit/events", params=params)).json()
        events += answer["events"]
        cursor = answer.get("next_cursor")
        if not cursor:
            return events
    raise AssertionError("the audit API kept paging")


async def test_support_revokes_a_shareable_link_and_an_auditor_reviews_verifies_and_exports_it(
    browser: Browser, proxy_url: str, api: httpx.AsyncClient
):
    support_email, support_otp = create_operator("support")
    auditor_email, auditor_otp = create_operator("auditor")
    support_context = await new_context(browser, proxy_url)
    admin_browser = await new_context(browser, proxy_url)  # the customer's IT admin, a separate browser
    auditor_context = await new_context(browser, proxy_url)
    try:
        console = await support_context.new_page()
        errors = ConsoleErrors()
        errors.watch(console)

        # Support signs in: first a wrong password (the API's words), then the one-time password, replaced at once.
        await console.goto(f"{proxy_url}/console/sign-in")
        await console.get_by_label("Email").fill(support_email)
        await console.get_by_label("Password").fill("not the password at all")
        await console.get_by_role("button", name="Sign in").click()
        await expect(console.locator("#form-error")).to_have_text("Email or password is incorrect.")
        await shot(console, "sign-in-error")
        await sign_in_first_time(console, proxy_url, support_email, support_otp, screenshots=True)
        await expect(console).to_have_url(f"{proxy_url}/console/organizations")
        support_id = (await (await console.request.get(f"{proxy_url}/console/api/session")).json())["operator"]["id"]
        nav = console.get_by_role("navigation", name="Console")
        await expect(nav.get_by_role("link")).to_have_text(["Organizations"])

        # An organization, found again by search.
        name = f"Console Co {uuid.uuid4().hex[:8]}"
        await console.get_by_role("button", name="Create organization").click()
        await console.get_by_label("Name", exact=True).fill(name)
        await console.get_by_label("External ID (optional)").fill(f"ext-{name[-8:]}")
        await shot(console, "organization-create")
        await console.locator("#create-form").get_by_role("button", name="Create organization").click()
        await expect(console.get_by_role("heading", level=1)).to_have_text(name)
        organization_id = console.url.rsplit("/", 1)[-1]
        assert organization_id.startswith("org_")
        await console.get_by_role("link", name="Organizations").first.click()
        await console.get_by_label("Search by name or external ID").fill(name[-8:])
        await console.get_by_role("button", name="Search").click()
        await expect(console.locator("#organizations-table tbody tr")).to_have_count(1)
        await expect(console.locator("#organizations-table")).to_contain_text(name)
        await shot(console, "organizations")
        await console.get_by_role("link", name=name).click()

        # A shareable link for one day, copied with one click.
        await expect(console.locator("#connections-table-empty")).to_be_visible()
        await console.get_by_label("Shareable link lifetime").select_option(label="1 day")
        await console.get_by_role("button", name="Generate shareable link").click()
        location = console.locator("#new-link-value")
        await expect(location).to_contain_text(f"{proxy_url}/portal/l/v1.")
        await console.get_by_role("button", name="Copy link").click()
        link = await location.inner_text()
        assert await console.evaluate("navigator.clipboard.readText()") == link
        row = console.locator("#links-table tbody tr").first
        await expect(row).to_contain_text("Shareable")
        await expect(row).to_contain_text("Live")
        await shot(console, "organization", full_page=True)

        # The IT admin opens it in another browser: a portal session starts.
        portal = await admin_browser.new_page()
        await portal.goto(link)
        await expect(portal.get_by_role("heading", level=1)).to_have_text(f"Set up single sign-on for {name}")
        assert (await portal.request.get(f"{proxy_url}/portal/api/session")).status == 200

        # Support revokes it; the admin's next portal request fails within a second.
        await row.get_by_role("button", name="Revoke").click()
        dialog = console.get_by_role("dialog")
        await expect(dialog).to_contain_text("sessions opened with it end now")
        await shot(console, "revoke-confirm")
        async with console.expect_response(lambda r: r.request.method == "DELETE" and "/links/" in r.url) as revoked:
            await dialog.get_by_role("button", name="Revoke link").click()
        assert (await revoked.value).status == 204
        answered = time.monotonic()
        status = 200
        while status == 200 and time.monotonic() - answered < 3:
            status = (await portal.request.get(f"{proxy_url}/portal/api/session")).status
        took = time.monotonic() - answered
        assert status == 401 and took < 1.0, f"portal still answered {status} {took:.2f} s after the revocation"
        await expect(row).to_contain_text("Revoked")
        await expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
        assert errors.unexpected(PROVOKED, AUDIT_BUSY) == []

        # The auditor signs in and sees those events, the support operator as their actor.
        audit = await auditor_context.new_page()
        auditor_errors = ConsoleErrors()
        auditor_errors.watch(audit)
        await sign_in_first_time(audit, proxy_url, auditor_email, auditor_otp)
        await expect(audit).to_have_url(f"{proxy_url}/console/audit")
        await expect(audit.get_by_role("navigation", name="Console").get_by_role("link")).to_have_text(["Audit log"])
        await audit.get_by_label("Organization ID").fill(organization_id)
        wanted = ["portico.organization.created", "portico.portal_link.issued", "portico.portal_link.redeemed",
                  "portico.portal_session.started", "portico.portal_link.revoked", "portico.portal_session.ended"]
        table = audit.locator("#audit-table")
        deadline = time.monotonic() + AUDIT_ARRIVAL_S
        while True:
            await audit.get_by_role("button", name="Apply filters").click()
            await expect(audit.locator("#results-status")).not_to_have_text("Loading…")
            shown = await table.locator("tbody tr td:nth-child(3)").all_inner_texts() if await table.is_visible() else []
            if all(event_type in shown for event_type in wanted) or time.monotonic() > deadline:
                break
            await audit.wait_for_timeout(500)
        assert all(event_type in shown for event_type in wanted), f"missing {[t for t in wanted if t not in shown]} in {shown}"
        issued = table.locator("tbody tr", has_text="portico.portal_link.issued")
        await expect(issued.locator("td").nth(3)).to_have_text(re.compile(rf"^operator\s*{support_id}$"))

        await audit.get_by_role("button", name="Verify chain").click()
        await expect(audit.locator("#verify-result")).to_contain_text("Chain intact.")
        await expect(audit.locator("#verify-result")).to_contain_text(f"organization {organization_id}")
        await shot(audit, "audit", full_page=True)

        await issued.get_by_role("button", name="Open").click()
        record = audit.get_by_role("dialog")
        await expect(record).to_contain_text("actor.kind")
        await expect(record).to_contain_text("operator")
        await expect(record).to_contain_text("prev_hash")
        await shot(audit, "audit-record")
        await audit.keyboard.press("Escape")
        await expect(record).to_be_hidden()

        # The CSV download of the current filter holds exactly the audit API's rows.
        async with audit.expect_download() as download:
            await audit.get_by_role("link", name="Download CSV").click()
        exported = list(csv.DictReader(io.StringIO(open(await (await download.value).path(), encoding="utf-8").read())))
        from_api = await api_rows(api, organization_id)
        assert len(exported) == len(from_api) >= len(wanted)
        for line, event in zip(exported, from_api, strict=True):
            assert (int(line["sequence"]), line["event_id"], line["type"], line["actor_id"] or None, line["hash"]) == (
                event["sequence"], event["event_id"], event["type"], event["actor"]["id"], event["hash"])

        # No link button for the auditor, and the link endpoint refuses the auditor's own session outright.
        forbidden = await audit.goto(f"{proxy_url}/console/organizations/{organization_id}")
        assert forbidden is not None and forbidden.status == 403
        await expect(audit.get_by_role("heading", level=1)).to_have_text("You cannot open this page")
        await expect(audit.get_by_role("button", name="Generate shareable link")).to_have_count(0)
        await shot(audit, "forbidden")
        csrf = (await (await audit.request.get(f"{proxy_url}/console/api/session")).json())["csrf_token"]
        called = await audit.request.post(
            f"{proxy_url}/console/api/organizations/{organization_id}/links",
            data={"kind": "shareable"}, headers={"X-CSRF-Token": csrf},
        )
        assert called.status == 403 and (await called.json())["error"]["code"] == "forbidden"
        assert auditor_errors.unexpected(PROVOKED, AUDIT_BUSY) == []
    finally:
        for opened in (support_context, admin_browser, auditor_context):
            await opened.close()


async def test_an_operator_signs_in_with_the_keyboard_alone(browser: Browser, proxy_url: str):
    email, one_time_password = create_operator("auditor")
    context = await new_context(browser, proxy_url)
    try:
        page = await context.new_page()
        await page.goto(f"{proxy_url}/console/sign-in")
        await shot(page, "sign-in")
        await expect(page.get_by_label("Email")).to_be_focused()  # autofocus
        await page.keyboard.type(email)
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Password")).to_be_focused()
        await page.keyboard.type(one_time_password)
        await page.keyboard.press("Tab")
        submit = page.get_by_role("button", name="Sign in")
        await expect(submit).to_be_focused()
        assert await submit.evaluate("button => getComputedStyle(button).boxShadow") != "none", "no visible focus"
        await page.keyboard.press("Enter")

        await expect(page).to_have_url(f"{proxy_url}/console/password")
        await expect(page.get_by_label("One-time password")).to_be_focused()
        new_password = f"keyboard {uuid.uuid4().hex[:12]} only"
        for value in (one_time_password, new_password, new_password):
            await page.keyboard.type(value)
            await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Save password")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{proxy_url}/console/audit")

        # Skip link first, then the navigation, all reachable with Tab.
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Organization ID")).to_be_focused()
    finally:
        await context.close()


async def test_an_admin_manages_api_keys_and_operators_and_every_page_fits_a_phone(
    browser: Browser, proxy_url: str, api: httpx.AsyncClient
):
    email, one_time_password = create_operator("admin")
    context = await new_context(browser, proxy_url)
    try:
        page = await context.new_page()
        errors = ConsoleErrors()
        errors.watch(page)
        await sign_in_first_time(page, proxy_url, email, one_time_password)
        await expect(page.get_by_role("navigation", name="Console").get_by_role("link")).to_have_text(
            ["Organizations", "Audit log", "API keys", "Operators"])

        # An API key, shown once, works on the management API until it is revoked here.
        await page.get_by_role("link", name="API keys").click()
        key_name = f"console key {uuid.uuid4().hex[:6]}"
        await page.get_by_label("Name").fill(key_name)
        await page.get_by_role("button", name="Create API key").click()
        await expect(page.locator("#new-key-value")).to_contain_text("key_")
        key = await page.locator("#new-key-value").inner_text()
        await page.get_by_role("button", name="Copy key").click()
        assert await page.evaluate("navigator.clipboard.readText()") == key
        await shot(page, "api-keys")
        async with httpx.AsyncClient(base_url=proxy_url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as client:
            assert (await client.post("/api/v1/organizations", json={"display_name": "Made with a console key"})).status_code == 201
            row = page.locator("#api-keys-table tbody tr", has_text=key_name)
            await row.get_by_role("button", name="Revoke").click()
            await page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
            await expect(row).to_contain_text("Revoked")
            assert (await client.post("/api/v1/organizations", json={"display_name": "Refused"})).status_code == 401

        # An operator with a role, whose one-time password signs in (and must be changed).
        await page.get_by_role("link", name="Operators").click()
        new_email = f"new-support-{uuid.uuid4().hex[:8]}@example.com"
        await page.get_by_label("Email").fill(new_email)
        await page.get_by_label("Role").select_option("support")
        await page.get_by_role("button", name="Add operator").click()
        await expect(page.locator("#one-time-password")).to_be_visible()
        handed_over = await page.locator("#one-time-password-value").inner_text()
        await expect(page.locator("#operators-table")).to_contain_text(new_email)
        await shot(page, "operators")
        async with httpx.AsyncClient(base_url=proxy_url, timeout=10) as client:
            signed_in = await client.post("/console/api/session", json={"email": new_email, "password": handed_over})
            assert signed_in.status_code == 200 and signed_in.json()["operator"]["must_change_password"] is True

        # Disabled, that operator can no longer sign in.
        row = page.locator("#operators-table tbody tr", has_text=new_email)
        await row.get_by_role("button", name="Disable").click()
        await page.get_by_role("dialog").get_by_role("button", name="Disable operator").click()
        await expect(row).to_contain_text("Disabled")
        async with httpx.AsyncClient(base_url=proxy_url, timeout=10) as client:
            refused = await client.post("/console/api/session", json={"email": new_email, "password": handed_over})
            assert refused.status_code == 401

        # Organizations page 50 at a time with next and previous, each once; a search that finds none says so.
        tag = uuid.uuid4().hex[:8]
        for first in range(0, 51, 17):
            created = await asyncio.gather(*(api.post("/api/v1/organizations", json={"display_name": f"Paged {tag} {n:02d}"})
                                             for n in range(first, min(first + 17, 51))))
            assert all(response.status_code == 201 for response in created)
        await page.get_by_role("link", name="Organizations").click()
        await page.get_by_label("Search by name or external ID").fill(f"paged {tag}")
        await page.keyboard.press("Enter")
        rows = page.locator("#organizations-table tbody tr")
        names = page.locator("#organizations-table tbody th")
        await expect(rows).to_have_count(50)
        await expect(page.get_by_role("button", name="Previous")).to_be_disabled()
        first_page = await names.all_inner_texts()
        await page.get_by_role("button", name="Next").click()
        await expect(rows).to_have_count(1)
        await expect(page.locator("#results-status")).to_contain_text("51–51")
        assert sorted(first_page + await names.all_inner_texts()) == [f"Paged {tag} {n:02d}" for n in range(51)]
        await expect(page.get_by_role("button", name="Next")).to_be_disabled()
        await page.get_by_role("button", name="Previous").click()
        await expect(rows).to_have_count(50)
        await page.get_by_label("Search by name or external ID").fill(f"nothing {tag}")
        await page.keyboard.press("Enter")
        await expect(page.locator("#organizations-table-empty")).to_have_text(f"No organization matches “nothing {tag}”.")

        # Every page at 390 px: no horizontal scrolling.
        organization_id = await create_organization(api, "Phone Co")
        await api.post(f"/api/v1/organizations/{organization_id}/portal_links", json={"kind": "shareable"})
        await page.set_viewport_size({"width": 390, "height": 844})
        for path, name in (("/console/organizations", "phone-organizations"),
                           (f"/console/organizations/{organization_id}", "phone-organization"),
                           (f"/console/audit?organization_id={organization_id}", "phone-audit"),
                           ("/console/api-keys", None), ("/console/operators", None),
                           ("/console/password", None)):
            await page.goto(f"{proxy_url}{path}")
            await expect(page.locator("#results-status, #links-status, #password-form").first).to_be_attached()
            await page.wait_for_load_state("networkidle")
            widths = await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert widths[0] <= widths[1], f"{path} scrolls sideways at 390 px: {widths}"
            if name:
                await shot(page, name)
        assert errors.unexpected(PROVOKED, AUDIT_BUSY) == []
    finally:
        await context.close()
