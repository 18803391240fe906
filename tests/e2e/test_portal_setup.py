"""Full setups through the portal UI in a real browser, ending with an enabled connection that the SaaS
backend sees through the management API."""
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import (
    ConsoleErrors,
    Screenshots,
    connection_config_allowing,
    managed_connections,
    pass_test_step,
)
from tests.factories import create_organization, magic_link, shareable_link
from tests.fixtures.identity_providers import oidc_provider, saml_idp
from tests.fixtures.oidc_provider import LoopbackOidcProvider

FAILED_API_CALL = r"Failed to load resource: the server responded with a status of 4(09|12|22)"


async def test_admin_sets_up_okta_saml_by_uploading_metadata(
    api: httpx.AsyncClient, proxy_url: str, page: Page, console: ConsoleErrors, screenshots: Screenshots, tmp_path
):
    org_id = await create_organization(api, "Globex Corporation")
    await page.goto((await magic_link(api, org_id))["location"])

    await expect(page.get_by_role("heading", level=1)).to_have_text("Set up single sign-on for Globex Corporation")
    await screenshots.take(page, "welcome")
    await page.get_by_role("link", name="Start").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Which identity provider does your company use?")
    await page.get_by_label("Okta").check()
    await expect(page.get_by_label("SAML 2.0")).to_be_checked()
    await screenshots.take(page, "choose-provider")
    await page.get_by_role("button", name="Continue").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Set up Portico in Okta")
    acs = page.locator(".sp-values .value-row", has_text="ACS URL").locator("code")
    assert re.fullmatch(r"http://127\.0\.0\.1:8080/sso/saml/conn_[0-9a-z]{26}/acs", await acs.inner_text())
    await page.get_by_role("button", name="Copy ACS URL").first.click()
    assert await page.evaluate("navigator.clipboard.readText()") == await acs.inner_text()
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download SP metadata (XML)").click()
    metadata = await (await download.value).path()
    assert "SPSSODescriptor" in open(metadata, encoding="utf-8").read()
    await screenshots.take(page, "okta-guide")
    await page.get_by_role("link", name="Next: enter Okta's details").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Enter Okta's details")
    await page.get_by_label("Upload the metadata file").check()
    not_metadata = tmp_path / "not-metadata.xml"
    not_metadata.write_text("<html><body>Sign in</body></html>")
    await page.get_by_label("Metadata file (XML)").set_input_files(str(not_metadata))
    await page.get_by_role("button", name="Save and continue").click()
    error = page.locator("#saml-metadata-file-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("web page, not SAML metadata")
    await expect(page.get_by_label("Metadata file (XML)")).to_have_attribute("aria-invalid", "true")
    await screenshots.take(page, "inline-error")

    with saml_idp() as okta:  # a loopback IdP standing in for Okta: the test step signs in there
        okta_metadata = tmp_path / "okta-metadata.xml"
        okta_metadata.write_text(okta.metadata())
        await page.get_by_label("Metadata file (XML)").set_input_files(str(okta_metadata))
        await page.get_by_role("button", name="Save and continue").click()

        await expect(page.get_by_role("heading", level=1)).to_have_text("Review your Okta connection")
        await expect(page.get_by_text(okta.entity_id, exact=True)).to_be_visible()
        await expect(page.get_by_text("CN=idp.loopback.test")).to_be_visible()
        await expect(page.get_by_role("button", name="Enable single sign-on")).to_be_disabled()
        await screenshots.take(page, "review")
        await pass_test_step(page, page)
        await page.get_by_role("button", name="Enable single sign-on").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Single sign-on with Okta is on")
    await screenshots.take(page, "enabled")
    await page.get_by_role("button", name="Finish setup").click()
    await expect(page.get_by_role("heading", name="Setup complete")).to_be_visible()
    await screenshots.take(page, "finished")

    [connection] = await managed_connections(api, org_id)
    assert (connection["type"], connection["provider"], connection["status"]) == ("saml", "okta", "enabled")
    assert connection["saml"]["idp_entity_id"] == okta.entity_id

    assert console.unexpected(FAILED_API_CALL) == []

    # A magic-link session ends when setup is complete.
    ended = await page.goto(f"{proxy_url}/portal/")
    assert ended is not None and ended.status == 401
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your setup session has ended")


@pytest.fixture(scope="module")
def keycloak_idp(proxy_url: str) -> Iterator[LoopbackOidcProvider]:
    """A loopback OpenID provider standing in for Keycloak, which connection-config may reach."""
    with oidc_provider(client_id="sso-login") as idp, connection_config_allowing(proxy_url, idp.server.host_port):
        yield idp


async def test_admin_sets_up_keycloak_oidc_then_manages_the_connection(
    api: httpx.AsyncClient, proxy_url: str, keycloak_idp: LoopbackOidcProvider, page: Page, console: ConsoleErrors,
    screenshots: Screenshots,
):
    issuer = keycloak_idp.issuer
    org_id = await create_organization(api, "Initech")
    await page.goto((await shareable_link(api, org_id))["location"])
    await page.get_by_role("link", name="Start").click()

    await page.get_by_label("Keycloak").check()
    await page.get_by_label("OpenID Connect (OIDC)").check()
    await page.get_by_role("button", name="Continue").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Set up Portico in Keycloak")
    redirect_uri = page.locator(".sp-values .value-row", has_text="Redirect URI").locator("code")
    assert re.fullmatch(r"http://127\.0\.0\.1:8080/sso/oidc/conn_[0-9a-z]{26}/callback", await redirect_uri.inner_text())
    await expect(page.get_by_text("Client authentication")).to_be_visible()  # the OpenID Connect steps
    await screenshots.take(page, "keycloak-guide")
    await page.get_by_role("link", name="Next: enter Keycloak's details").click()

    await page.get_by_label("Issuer URL").fill(issuer + "/")
    await page.get_by_label("Client ID").fill("sso-login")
    await page.get_by_label("Client secret").fill(keycloak_idp.client_secret)
    await page.get_by_role("button", name="Save and continue").click()
    issuer_error = page.locator("#oidc-issuer-error")
    await expect(issuer_error).to_contain_text(f"Use exactly '{issuer}' as the issuer.")
    await expect(page.get_by_label("Issuer URL")).to_be_focused()
    await screenshots.take(page, "issuer-error")

    await page.get_by_label("Issuer URL").fill(issuer)
    await page.get_by_role("button", name="Save and continue").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Review your Keycloak connection")
    await expect(page.get_by_text(f"set, ending in {keycloak_idp.client_secret[-4:]}")).to_be_visible()
    await expect(page.get_by_text(f"{issuer}/oauth2/v1/authorize")).to_be_visible()
    await screenshots.take(page, "oidc-review")
    await pass_test_step(page, page)
    await page.get_by_role("button", name="Enable single sign-on").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Single sign-on with Keycloak is on")
    await page.get_by_role("button", name="Finish setup").click()
    await expect(page.get_by_role("heading", name="Setup complete")).to_be_visible()

    [connection] = await managed_connections(api, org_id)
    assert (connection["type"], connection["provider"], connection["status"]) == ("oidc", "keycloak", "enabled")
    assert connection["oidc"]["issuer"] == issuer and connection["oidc"]["client_secret_set"] is True
    assert "/realms/acme/.well-known/openid-configuration" in keycloak_idp.server.requests

    # A shareable link's session goes on after setup: the admin manages the connection.
    await page.goto(f"{proxy_url}/portal/")
    row = page.get_by_role("row", name=re.compile("Keycloak"))
    await expect(row).to_contain_text("Enabled")
    await screenshots.take(page, "connections")
    await row.get_by_role("link", name=re.compile("Manage")).click()
    await expect(page.locator(".meta")).to_contain_text(f"Version {connection['version']}")
    await expect(page.locator(".meta")).to_contain_text("by you, in this session")
    await page.get_by_role("button", name="Disable").click()
    await expect(page.locator(".lead .badge")).to_have_text("Disabled")
    await screenshots.take(page, "manage-disabled")
    await page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this connection?")
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await page.get_by_role("button", name="Delete").click()
    await dialog.get_by_role("button", name="Delete connection").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Set up single sign-on for Initech")
    assert await managed_connections(api, org_id) == []
    assert console.unexpected(FAILED_API_CALL) == []


async def test_the_setup_works_with_the_keyboard_alone_and_fits_a_phone(
    api: httpx.AsyncClient, page: Page, console: ConsoleErrors, screenshots: Screenshots
):
    org_id = await create_organization(api, "Wayne Enterprises")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto((await magic_link(api, org_id))["location"])
    await page.goto(page.url + "providers")

    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("radio", name=re.compile("^Okta"))).to_be_focused()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("radio", name=re.compile("^Microsoft Entra ID"))).to_be_checked()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("radio", name="SAML 2.0")).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("radio", name="OpenID Connect (OIDC)")).to_be_checked()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Continue")).to_be_focused()
    await screenshots.take(page, "phone-providers")
    await page.keyboard.press("Enter")

    await expect(page.get_by_role("heading", level=1)).to_have_text("Set up Portico in Microsoft Entra ID")
    await expect(page.get_by_text("App registrations")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await screenshots.take(page, "phone-entra-oidc-guide")
    assert console.unexpected() == []
