"""The production configuration end to end: the services with the Helm chart's environment, the proxy on
https with a certificate from a test CA, and real Chromium trusting that CA, with third-party cookies phased
out, framing the portal from the SaaS product's page on another site (tests/e2e/production.py)."""
import os
import ssl
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, Response, async_playwright, expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, Screenshots, pass_test_step
from tests.e2e.production import HELM, HOST_PAGE_HOST, LocaltestTransport, Production, production_stack, trust_store
from tests.e2e.test_portal_embedding import host_page
from tests.fixtures.identity_providers import LoopbackServer, Route, loopback_server, saml_idp
from tests.integration.polling import eventually
from tests.integration.stack import Stack
from tests.integration.test_no_secrets_in_logs import RUN_LOGS, hits, log_files, token_of, token_parts

pytestmark = pytest.mark.skipif(not HELM.exists(), reason=f"helm is not at {HELM} (make helm-check builds it)")
SECRET_NAMES = ("PORTICO_INTERNAL_TOKEN", "PORTICO_LINK_SIGNING_KEY", "PORTICO_ENCRYPTION_KEYS")


@pytest.fixture(scope="module")
def production(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    with production_stack(tmp_path_factory.mktemp("production"), {name: os.environ[name] for name in SECRET_NAMES}) as running:
        yield running


@pytest.fixture(scope="module")
async def https_browser(production: Production, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    home = trust_store(tmp_path_factory.mktemp("chromium-home"), production.certificates.ca)
    args = [
        *CHROMIUM_ARGS,
        "--host-resolver-rules=MAP *.localtest 127.0.0.1",
        # Chromium's third-party cookie phase-out: only partitioned (CHIPS) cookies reach a cross-site frame.
        "--test-third-party-cookie-phaseout",
    ]
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=args, env={**os.environ, "HOME": str(home)}, timeout=30_000
        )
        yield launched
        await launched.close()


@pytest.fixture
async def https_page(https_browser: Browser) -> AsyncIterator[Page]:
    context: BrowserContext = await https_browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    yield await context.new_page()
    await context.close()


@pytest.fixture
async def https_api(production: Production, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The management API at the public https origin, trusting only the test CA."""
    trust = ssl.create_default_context(cafile=str(production.certificates.ca))
    async with httpx.AsyncClient(
        base_url=production.public_url, transport=LocaltestTransport(verify=trust),
        headers={"Authorization": f"Bearer {api_key}"}, timeout=15,
    ) as client:
        yield client


@pytest.fixture
def host(production: Production) -> Iterator[LoopbackServer]:
    """The SaaS product's page on https://host.localtest:<port>, another site than Portico's."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(production.certificates.certificate, production.certificates.key)
    with loopback_server(tls=tls) as server:
        yield server


async def organization(api: httpx.AsyncClient, name: str, host_origin: str) -> str:
    response = await api.post("/api/v1/organizations", json={"display_name": name, "allowed_frame_ancestors": [host_origin]})
    assert response.status_code == 201, response.text
    return response.json()["organization"]["id"]


async def portico_events(page: Page) -> list[dict]:
    return await page.evaluate("window.porticoEvents")


async def wait_for_event(page: Page, event_type: str) -> dict:
    await page.wait_for_function(f"window.porticoEvents.some(e => e.type === '{event_type}')", timeout=20_000)
    return next(e for e in await portico_events(page) if e["type"] == event_type)


class Exchanges:
    """What the browser sent to and got from Portico's link path: fetch metadata and Set-Cookie headers."""

    def __init__(self, page: Page) -> None:
        self.fetch_sites: list[str] = []
        self.cookies: list[str] = []
        page.on("request", self._request)
        page.on("response", self._response)

    async def _request(self, request: Request) -> None:
        if "/portal/l/" in request.url:  # all_headers: what the network stack sent, fetch metadata included
            self.fetch_sites.append((await request.all_headers()).get("sec-fetch-site", ""))

    async def _response(self, response: Response) -> None:
        if "/portal/l/" in response.url:
            self.cookies += [v for k, v in (await response.all_headers()).items() if k == "set-cookie"]


async def test_the_public_origin_serves_https_with_hsts(https_api: httpx.AsyncClient):
    anonymous = await https_api.get("/api/v1/organizations/org_x", headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    assert anonymous.headers["strict-transport-security"] == "max-age=31536000"
    assert anonymous.http_version in ("HTTP/1.1", "HTTP/2")


async def test_a_magic_link_framed_by_another_site_on_https_opens_the_portal_and_enables_a_connection(
    production: Production, https_api: httpx.AsyncClient, host: LoopbackServer, https_page: Page, screenshots: Screenshots
):
    host_origin = host.url(host=HOST_PAGE_HOST)
    org_id = await organization(https_api, "Initech", host_origin)
    link = (await https_api.put(f"/api/v1/organizations/{org_id}/portal_links")).json()["link"]["location"]
    assert link.startswith(f"{production.public_url}/portal/l/v1.")
    host.routes["/"] = Route(body=host_page(link, production.public_url), headers={"Content-Type": "text/html; charset=utf-8"})
    exchanges = Exchanges(https_page)

    await https_page.goto(f"{host_origin}/")
    loaded = await wait_for_event(https_page, "portico.portal.loaded")
    assert loaded["organization_id"] == org_id and loaded["origin"] == production.public_url
    assert exchanges.fetch_sites[0] == "cross-site"  # the host page's frame: another site, not just another port
    session_cookie = next(c for c in exchanges.cookies if c.startswith("portico_session="))
    assert {"Secure", "SameSite=None", "Partitioned", "HttpOnly"} <= {part.strip() for part in session_cookie.split(";")}
    every = await https_page.context.cookies()
    stored = [c for c in every if c["name"] == "portico_session"]
    assert len(stored) == 1, every and stored[0]["secure"] and stored[0]["sameSite"] == "None"
    assert stored[0].get("partitionKey"), stored  # kept in the host site's partition (CHIPS)

    portal = https_page.frame_locator("#portico")
    await expect(portal.get_by_role("heading", level=1)).to_have_text("Set up single sign-on for Initech")
    await screenshots.take(https_page, "https-framed-welcome")
    await portal.get_by_role("link", name="Start").click()
    await portal.get_by_label("Other SAML provider").check()
    await portal.get_by_role("button", name="Continue").click()
    await portal.get_by_role("link", name="Next: enter Other SAML provider's details").click()
    await portal.get_by_label("Enter the values one by one").check()
    with saml_idp() as idp:
        await portal.get_by_label("IdP entity ID").fill(idp.entity_id)
        await portal.get_by_label("Single sign-on URL").fill(idp.sso_url)
        await portal.get_by_label("Signing certificate").fill(idp.certificate_pem)
        await portal.get_by_role("button", name="Save and continue").click()
        await expect(portal.get_by_role("heading", level=1)).to_have_text("Review your Other SAML provider connection")
        # The new tab is first-party, without the frame's partitioned session: the frame shows the outcome.
        await pass_test_step(https_page, portal)
        await portal.get_by_role("button", name="Enable single sign-on").click()
    enabled = await wait_for_event(https_page, "portico.connection.enabled")
    await screenshots.take(https_page, "https-framed-enabled")

    connections = (await https_api.get(f"/api/v1/organizations/{org_id}/connections")).json()["connections"]
    assert [(c["id"], c["status"]) for c in connections] == [(enabled["connection_id"], "enabled")]
    assert connections[0]["sp"]["acs_url"].startswith(f"{production.public_url}/")
    again = await https_api.get(link.removeprefix(production.public_url), headers={"Accept": "application/json"})
    assert again.status_code == 410 and again.json()["error"]["code"] == "link_used"


async def test_a_shareable_link_framed_on_https_opens_and_its_revocation_ends_the_framed_session(
    production: Production, https_api: httpx.AsyncClient, host: LoopbackServer, https_page: Page
):
    host_origin = host.url(host=HOST_PAGE_HOST)
    org_id = await organization(https_api, "Globex", host_origin)
    created = await https_api.post(f"/api/v1/organizations/{org_id}/portal_links", json={"kind": "shareable"})
    link = created.json()["link"]
    host.routes["/"] = Route(body=host_page(link["location"], production.public_url), headers={"Content-Type": "text/html; charset=utf-8"})

    await https_page.goto(f"{host_origin}/")
    assert (await wait_for_event(https_page, "portico.portal.loaded"))["organization_id"] == org_id
    frame = next(f for f in https_page.frames if f.url.startswith(production.public_url))
    read_session = "fetch('/portal/api/session').then(r => r.status)"
    assert await frame.evaluate(read_session) == 200

    assert (await https_api.delete(f"/api/v1/organizations/{org_id}/portal_links/{link['id']}")).status_code == 204
    status = await eventually(lambda: frame.evaluate(read_session), lambda code: code == 401, timeout_s=5)
    assert status == 401


async def test_a_link_opened_directly_on_https_redirects_into_the_portal(
    production: Production, https_api: httpx.AsyncClient, https_page: Page
):
    org_id = await organization(https_api, "Hooli", "https://app.hooli.example")
    link = (await https_api.put(f"/api/v1/organizations/{org_id}/portal_links")).json()["link"]["location"]
    response = await https_page.goto(link)
    assert response is not None and response.url == f"{production.public_url}/portal/"
    await expect(https_page.get_by_role("heading", level=1)).to_have_text("Set up single sign-on for Hooli")


async def test_no_link_token_or_session_cookie_reaches_a_log_in_the_chart_configuration(
    production: Production, https_api: httpx.AsyncClient, https_page: Page
):
    org_id = await organization(https_api, "Massive Dynamic", "https://app.massive.example")
    links = f"/api/v1/organizations/{org_id}/portal_links"
    magic = (await https_api.put(links)).json()["link"]["location"]
    shareable = (await https_api.post(links, json={"kind": "shareable"})).json()["link"]["location"]
    for location in (magic, shareable, magic):  # the last one is refused: used
        await https_page.goto(f"{location}?utm_source=mail")
    await expect(https_page.get_by_role("heading", level=1)).to_have_text("This setup link has already been used")
    cookies = [c["value"] for c in await https_page.context.cookies() if c["name"] == "portico_session"]
    assert cookies
    searched = {f"{kind} token part {i}": part for kind, location in (("magic", magic), ("shareable", shareable))
                for i, part in enumerate(token_parts(token_of(location)))}
    searched |= {f"session cookie {i}": value for i, value in enumerate(cookies)}
    files = log_files(RUN_LOGS, production.proxy_logs)
    assert any(path.name == "nginx-access.log" and "/portal/l/[redacted]" in path.read_text() for path in files)
    assert hits(searched, files) == []
