"""The portal's test step through the running stack, against the loopback SAML IdP: the result page the
IdP's answer lands on shows what was received or what failed, and only to the organization's session."""
from urllib.parse import urlsplit

import httpx

from tests.fixtures.connection_tests import run_connection_test
from tests.fixtures.identity_providers import IdpUser, saml_idp
from tests.fixtures.saml_idp import SamlMisbehaviour
from tests.integration.portal_session.test_portal_connections import portal_browser


async def loopback_connection(browser: httpx.AsyncClient, csrf: str, metadata_url: str) -> str:
    metadata = httpx.get(metadata_url, timeout=5).text
    created = await browser.post("/portal/api/connections", headers={"X-CSRF-Token": csrf}, json={
        "type": "saml", "provider": "generic_saml", "saml": {"metadata_xml": metadata}})
    assert created.status_code == 201, created.text
    connection_id: str = created.json()["connection"]["id"]
    return connection_id


async def test_a_test_that_succeeds_lands_on_a_page_showing_what_the_idp_sent(api: httpx.AsyncClient, proxy_url: str):
    _, browser, csrf = await portal_browser(api, proxy_url, "Tested Co")
    with saml_idp(user=IdpUser(email="grace@example.com", first_name="Grace", groups=("R&D <lab>",))) as idp:
        connection_id = await loopback_connection(browser, csrf, idp.metadata_url)
        test = await run_connection_test(browser, connection_id, csrf)
    assert test["status"] == "succeeded", test
    page = await browser.get(f"/portal/connections/{connection_id}/tests/{test['id']}")
    assert page.status_code == 200 and "The test sign-in worked" in page.text
    assert "grace@example.com" in page.text and "R&amp;D &lt;lab&gt;" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    _, intruder, _ = await portal_browser(api, proxy_url, "Intruder Co")
    refused = await intruder.get(f"/portal/connections/{connection_id}/tests/{test['id']}")
    assert refused.status_code == 404 and "tst_" not in refused.text
    await browser.aclose()
    await intruder.aclose()


async def test_a_test_that_fails_says_why_and_who_fixes_it(api: httpx.AsyncClient, proxy_url: str):
    _, browser, csrf = await portal_browser(api, proxy_url, "Failing Co")
    with saml_idp() as idp:
        connection_id = await loopback_connection(browser, csrf, idp.metadata_url)
        idp.misbehaviour = SamlMisbehaviour.OTHER_KEY
        test = await run_connection_test(browser, connection_id, csrf)
    assert test["error"]["code"] == "certificate_mismatch", test
    page = await browser.get(urlsplit(f"/portal/connections/{connection_id}/tests/{test['id']}").path)
    assert page.status_code == 200 and "The test sign-in failed" in page.text and "certificate_mismatch" in page.text
    await browser.aclose()
