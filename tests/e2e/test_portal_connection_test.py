"""The portal's test step in a real browser, against the loopback SAML IdP: a test that succeeds shows what
the IdP sent and makes Enable available; one that fails says why and who fixes it, and Enable stays off. And
once against a real Keycloak, its login form filled in Chromium."""
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import ConsoleErrors, Screenshots, managed_connections
from tests.factories import create_organization, magic_link
from tests.fixtures.identity_providers import IdpUser, saml_idp
from tests.fixtures.saml_idp import LoopbackSamlIdp, SamlMisbehaviour
from tests.integration.keycloak.admin import KeycloakRealm, make_user


@pytest.fixture
def idp() -> Iterator[LoopbackSamlIdp]:
    with saml_idp(user=IdpUser(email="grace@globex.example", first_name="Grace", last_name="Hopper",
                               groups=("engineering", "admins"))) as started:
        yield started


async def set_up_until_review(api: httpx.AsyncClient, page: Page, idp: LoopbackSamlIdp, tmp_path: Path, name: str) -> str:
    """A generic SAML setup through the portal, its metadata the loopback IdP's (uploaded as the file)."""
    org_id = await create_organization(api, name)
    await page.goto((await magic_link(api, org_id))["location"])
    await page.get_by_role("link", name="Start").click()
    await page.get_by_label("Other SAML provider").check()
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("link", name="Next: enter").click()
    await page.get_by_label("Upload the metadata file").check()
    metadata = tmp_path / "idp-metadata.xml"
    metadata.write_text(idp.metadata())
    await page.get_by_label("Metadata file (XML)").set_input_files(str(metadata))
    await page.get_by_role("button", name="Save and continue").click()
    await expect(page.get_by_role("heading", name="Test connection")).to_be_visible()
    return org_id


async def run_test(page: Page) -> Page:
    """Press Test connection; the sign-in opens in a new tab and lands on the result page there."""
    async with page.expect_popup() as popup:
        await page.get_by_role("button", name="Test connection").click()
    result = await popup.value
    await result.wait_for_url("**/portal/connections/*/tests/tst_*")
    return result


async def test_a_test_that_succeeds_shows_what_the_idp_sent_and_then_enable_is_offered(
    api: httpx.AsyncClient, page: Page, console: ConsoleErrors, screenshots: Screenshots, idp: LoopbackSamlIdp,
    tmp_path: Path,
):
    org_id = await set_up_until_review(api, page, idp, tmp_path, "Globex Tested")
    enable = page.get_by_role("button", name="Enable single sign-on")
    await expect(enable).to_be_disabled()

    result = await run_test(page)
    await expect(result.get_by_role("heading", name="The test sign-in worked")).to_be_visible()
    await expect(result.locator("#test-profile")).to_contain_text("grace@globex.example")
    await expect(result.locator("#test-profile")).to_contain_text("engineering")
    await expect(result.locator(".raw-attributes")).to_contain_text("firstName")
    await screenshots.take(result, "test-succeeded")  # docs/screenshots/portal-test-succeeded.png is a copy
    await result.close()

    await expect(page.locator("#test-succeeded")).to_contain_text("grace@globex.example")
    await expect(enable).to_be_enabled()
    await screenshots.take(page, "review-tested")
    await enable.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Single sign-on with Other SAML provider is on")
    assert [c["status"] for c in await managed_connections(api, org_id)] == ["enabled"]
    assert console.unexpected() == []


async def test_a_test_that_fails_says_why_and_who_fixes_it_and_enable_stays_off(
    api: httpx.AsyncClient, page: Page, console: ConsoleErrors, screenshots: Screenshots, idp: LoopbackSamlIdp,
    tmp_path: Path,
):
    org_id = await set_up_until_review(api, page, idp, tmp_path, "Initech Tested")
    idp.misbehaviour = SamlMisbehaviour.OTHER_KEY  # signs with a key whose certificate the connection does not trust

    result = await run_test(page)
    await expect(result.get_by_role("heading", name="The test sign-in failed")).to_be_visible()
    await expect(result.locator("#test-error")).to_contain_text("certificate_mismatch")
    await screenshots.take(result, "test-failed")  # docs/screenshots/portal-test-failed.png is a copy
    await result.close()

    await expect(page.locator("#test-failed")).to_contain_text("certificate_mismatch")
    await expect(page.get_by_role("button", name="Enable single sign-on")).to_be_disabled()
    await screenshots.take(page, "review-failed")
    assert [c["status"] for c in await managed_connections(api, org_id)] == ["configured"]
    assert console.unexpected() == []


async def test_the_test_step_signs_the_admin_in_at_a_real_keycloak_in_the_browser(
    api: httpx.AsyncClient, page: Page, console: ConsoleErrors, proxy_url: str, keycloak: KeycloakRealm,
    tmp_path: Path,
):
    """The whole step in Chromium against Keycloak: the guide's metadata upload, Keycloak's client made from the
    SP metadata the guide offers, Test connection opening Keycloak's own login form in a new tab, Keycloak's
    auto-posting answer landing on the result page, and Enable offered afterwards."""
    user = await make_user(keycloak)
    org_id = await create_organization(api, "Keycloak Tested")
    await page.goto((await magic_link(api, org_id))["location"])
    await page.get_by_role("link", name="Start").click()
    await page.get_by_label("Keycloak").check()
    await page.get_by_label("SAML 2.0").check()
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("link", name="Next: enter Keycloak's details").click()
    await page.get_by_label("Upload the metadata file").check()
    metadata = tmp_path / "keycloak-metadata.xml"
    metadata.write_text(await keycloak.saml_metadata())
    await page.get_by_label("Metadata file (XML)").set_input_files(str(metadata))
    await page.get_by_role("button", name="Save and continue").click()
    await expect(page.get_by_role("heading", name="Test connection")).to_be_visible()
    connection_id = page.url.split("/portal/connections/")[1].split("/")[0]
    async with httpx.AsyncClient(timeout=10) as http:
        sp_metadata = await http.get(f"{proxy_url}/sso/saml/{connection_id}/metadata")
    await keycloak.create_saml_client_from_metadata(sp_metadata.text)
    enable = page.get_by_role("button", name="Enable single sign-on")
    await expect(enable).to_be_disabled()

    async with page.expect_popup() as popup:
        await page.get_by_role("button", name="Test connection").click()
    keycloak_tab = await popup.value
    await keycloak_tab.get_by_label("Username or email").fill(user.username)
    await keycloak_tab.get_by_label("Password", exact=True).fill(user.password)
    await keycloak_tab.get_by_role("button", name="Sign In").click()
    await keycloak_tab.wait_for_url(f"**/portal/connections/{connection_id}/tests/tst_*")
    await expect(keycloak_tab.get_by_role("heading", name="The test sign-in worked")).to_be_visible()
    await expect(keycloak_tab.locator("#test-profile")).to_contain_text(user.email)
    await keycloak_tab.close()

    await expect(page.locator("#test-succeeded")).to_contain_text(user.email)
    await expect(enable).to_be_enabled()
    await enable.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Single sign-on with Keycloak is on")
    assert [c["status"] for c in await managed_connections(api, org_id)] == ["enabled"]
    assert console.unexpected() == []
