"""The portal inside a SaaS product's page: framing allowed and refused by origin, the postMessage events
a host page hears, the new-tab fallback where the frame gets no cookies, and dead links."""
import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Page, Response, expect

from tests.e2e.conftest import (
    ConsoleErrors,
    Screenshots,
    managed_connections,
    pass_test_step,
    path_of,
)
from tests.factories import create_organization, magic_link, shareable_link
from tests.fixtures.identity_providers import LoopbackServer, Route, loopback_server, pem, saml_idp
from tests.unit.connection_config.sso.idp import certificate_for

PORTICO_ORIGIN = "http://127.0.0.1:8080"


def host_page(portal_url: str, portico_origin: str = PORTICO_ORIGIN) -> bytes:
    """The SaaS product's settings page, as docs/portal.md shows it: the portal in an iframe, and a
    listener that keeps every Portico event (window.porticoEvents) for the test to read."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme app: single sign-on</title><link rel="icon" href="data:,"></head>
<body>
<h1>Single sign-on</h1>
<p id="status">Loading the setup…</p>
<iframe id="portico" src={json.dumps(portal_url)} title="Single sign-on setup" allow="clipboard-write"
        style="width: 100%; height: 760px; border: 0"></iframe>
<script>
  const PORTICO_ORIGIN = {json.dumps(portico_origin)};
  window.porticoEvents = [];
  window.addEventListener("message", (event) => {{
    if (event.origin !== PORTICO_ORIGIN) return;
    const message = event.data;
    if (!message || typeof message.type !== "string" || !message.type.startsWith("portico.")) return;
    window.porticoEvents.push({{ origin: event.origin, ...message }});
    const status = document.getElementById("status");
    switch (message.type) {{
      case "portico.portal.loaded": status.textContent = "Setup open"; break;
      case "portico.portal.load_failed": status.textContent = "Setup could not open here: " + message.reason; break;
      case "portico.connection.enabled": status.textContent = "SSO enabled with " + message.provider; break;
      case "portico.connection.disabled": status.textContent = "SSO disabled"; break;
      case "portico.setup.completed": status.textContent = "Setup complete"; break;
      case "portico.session.expiring": status.textContent = "Setup session ends at " + message.expire_time; break;
      case "portico.session.expired": status.textContent = "Setup session ended"; break;
    }}
  }});
</script>
</body></html>""".encode()


@pytest.fixture
def host() -> Iterator[LoopbackServer]:
    with loopback_server() as server:
        yield server


def serve_host_page(server: LoopbackServer, portal_url: str) -> None:
    server.routes["/"] = Route(body=host_page(portal_url), headers={"Content-Type": "text/html; charset=utf-8"})


async def portico_events(page: Page) -> list[dict]:
    return await page.evaluate("window.porticoEvents")


async def wait_for_event(page: Page, event_type: str, timeout_ms: int = 20_000) -> dict:
    await page.wait_for_function(
        f"window.porticoEvents.some(e => e.type === {json.dumps(event_type)})", timeout=timeout_ms
    )
    return next(e for e in await portico_events(page) if e["type"] == event_type)


async def test_an_allowed_origin_frames_the_portal_and_hears_every_step(
    api: httpx.AsyncClient, host: LoopbackServer, page: Page, console: ConsoleErrors, screenshots: Screenshots
):
    host_origin = f"http://127.0.0.1:{host.port}"  # same site as Portico's loopback origin: cookies flow
    org_id = await create_organization(api, "Umbrella Corp", allowed_frame_ancestors=[host_origin])
    serve_host_page(host, (await magic_link(api, org_id))["location"])
    policies: list[str] = []

    def record_policy(response: Response) -> None:
        if response.url == f"{PORTICO_ORIGIN}/portal/":
            policies.append(response.headers.get("content-security-policy", ""))

    page.on("response", record_policy)

    await page.goto(host.url("/"))
    loaded = await wait_for_event(page, "portico.portal.loaded")
    assert loaded == {"origin": PORTICO_ORIGIN, "type": "portico.portal.loaded", "organization_id": org_id, "page": "welcome"}
    portal = page.frame_locator("#portico")
    await expect(portal.get_by_role("heading", level=1)).to_have_text("Set up single sign-on for Umbrella Corp")
    await screenshots.take(page, "framed-welcome")

    await portal.get_by_role("link", name="Start").click()
    await portal.get_by_label("Other SAML provider").check()
    await portal.get_by_role("button", name="Continue").click()
    await portal.get_by_role("link", name="Next: enter Other SAML provider's details").click()
    await portal.get_by_label("Enter the values one by one").check()
    await portal.get_by_label("IdP entity ID").fill("https://idp.umbrella.example/saml")
    await portal.get_by_label("Single sign-on URL").fill("https://idp.umbrella.example/saml/sso")
    await portal.get_by_label("Signing certificate").fill("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----")
    await portal.get_by_role("button", name="Save and continue").click()
    await expect(portal.locator("#saml-certificates-error")).to_contain_text("is not a valid X.509 certificate")
    with saml_idp() as idp:  # signs with a certificate that expires in 10 days
        soon_expiring = certificate_for(idp.signer.key, valid_from=datetime.now(UTC) - timedelta(days=1), valid_days=11,
                                        common_name="idp.umbrella.example")
        idp.signer = replace(idp.signer, certificate=soon_expiring)
        await portal.get_by_label("IdP entity ID").fill(idp.entity_id)
        await portal.get_by_label("Single sign-on URL").fill(idp.sso_url)
        await portal.get_by_label("Signing certificate").fill(pem(soon_expiring))
        await portal.get_by_role("button", name="Save and continue").click()

        await expect(portal.get_by_role("heading", level=1)).to_have_text("Review your Other SAML provider connection")
        warning = portal.get_by_role("region", name="Warnings")
        await expect(warning).to_contain_text("expires on")
        await screenshots.take(page, "framed-review-with-expiry-warning")
        await pass_test_step(page, portal)  # the sign-in opens in a new tab; the frame shows the outcome
        await portal.get_by_role("button", name="Enable single sign-on").click()
    enabled = await wait_for_event(page, "portico.connection.enabled")
    assert enabled["provider"] == "generic_saml" and enabled["status"] == "enabled"
    assert enabled["connection_id"].startswith("conn_")

    await portal.get_by_role("button", name="Finish setup").click()
    completed = await wait_for_event(page, "portico.setup.completed")
    assert completed["session_ended"] is True and completed["connection_id"] == enabled["connection_id"]
    await expect(page.locator("#status")).to_have_text("Setup complete")
    await screenshots.take(page, "framed-completed")

    assert {e["origin"] for e in await portico_events(page)} == {PORTICO_ORIGIN}
    assert [c["status"] for c in await managed_connections(api, org_id)] == ["enabled"]
    assert policies and policies[0].endswith(f"frame-ancestors {host_origin}")
    assert console.unexpected(r"status of 4(09|12|22)") == []


async def test_portal_pages_refuse_framing_by_an_origin_that_is_not_allowed(
    api: httpx.AsyncClient, proxy_url: str, host: LoopbackServer, page: Page, screenshots: Screenshots
):
    with loopback_server() as allowed_host:
        org_id = await create_organization(api, "Hooli", allowed_frame_ancestors=[f"http://127.0.0.1:{allowed_host.port}"])
    link = (await shareable_link(api, org_id))["location"]
    serve_host_page(host, link)
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text) if "frame-ancestors" in message.text else None)

    await page.goto(host.url("/"))
    for _ in range(100):
        if refusals:
            break
        await asyncio.sleep(0.1)
    assert refusals and "The request has been blocked" in refusals[0], refusals
    assert f"frame-ancestors http://127.0.0.1:{allowed_host.port}" in refusals[0]
    await asyncio.sleep(0.5)
    assert await portico_events(page) == []
    await screenshots.take(page, "refused-frame")

    async with httpx.AsyncClient(base_url=proxy_url) as browser:
        opened = await browser.get(path_of(link))
        portal = await browser.get("/portal/")
    assert opened.status_code == 303
    assert portal.headers["content-security-policy"].endswith(f"frame-ancestors http://127.0.0.1:{allowed_host.port}")


async def test_a_frame_without_cookies_offers_the_unused_link_in_a_new_tab(
    api: httpx.AsyncClient, host: LoopbackServer, page: Page, screenshots: Screenshots
):
    # localhost and 127.0.0.1 are different sites, so the loopback (SameSite=Lax) cookie is refused in
    # this frame, as a third-party cookie is in a browser that blocks them.
    host_origin = f"http://localhost:{host.port}"
    org_id = await create_organization(api, "Vandelay Industries", allowed_frame_ancestors=[host_origin])
    serve_host_page(host, (await magic_link(api, org_id))["location"])

    await page.goto(f"{host_origin}/")
    failed = await wait_for_event(page, "portico.portal.load_failed")
    assert failed["reason"] == "cookies_blocked" and failed["organization_id"] == org_id
    portal = page.frame_locator("#portico")
    await expect(portal.get_by_role("heading", level=1)).to_have_text("Open the setup in a new tab")
    await screenshots.take(page, "cookies-blocked-fallback")

    async with page.context.expect_page() as opened:
        await portal.get_by_role("link", name="Open the setup in a new tab").click()
    tab = await opened.value
    await expect(tab.get_by_role("heading", level=1)).to_have_text("Set up single sign-on for Vandelay Industries")
    await expect(portal.locator("#opened-hint")).to_be_visible()
    await screenshots.take(tab, "new-tab-welcome")


async def test_the_host_hears_that_the_session_is_ending_then_over(
    api: httpx.AsyncClient, host: LoopbackServer, page: Page, screenshots: Screenshots
):
    org_id = await create_organization(api, "Soylent", allowed_frame_ancestors=[f"http://127.0.0.1:{host.port}"])
    serve_host_page(host, (await shareable_link(api, org_id, expires_in_seconds=4))["location"])

    await page.goto(host.url("/"))
    expiring = await wait_for_event(page, "portico.session.expiring")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", expiring["expire_time"])
    await expect(page.frame_locator("#portico").locator("#session-banner")).to_contain_text("Your setup session ends at")
    await wait_for_event(page, "portico.session.expired", timeout_ms=15_000)
    await expect(page.frame_locator("#portico").get_by_role("heading", level=1)).to_have_text("Your setup session has ended")
    await screenshots.take(page, "framed-session-expired")


async def test_a_used_magic_link_shows_the_410_page(api: httpx.AsyncClient, page: Page, screenshots: Screenshots):
    link = (await magic_link(api, await create_organization(api, "Stark Industries")))["location"]
    async with httpx.AsyncClient() as first_visitor:
        assert (await first_visitor.get(link)).status_code == 303

    response = await page.goto(link)
    assert response is not None and response.status == 410
    await expect(page.get_by_role("heading", level=1)).to_have_text("This setup link has already been used")
    await expect(page.get_by_text("can send a new one")).to_be_visible()
    await screenshots.take(page, "link-used-410")
