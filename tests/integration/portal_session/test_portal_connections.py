"""The portal's connection API as a browser uses it: the session decides the organization, always."""
from urllib.parse import urlsplit

import httpx

from tests.factories import create_organization, magic_link
from tests.fixtures.connection_tests import pass_connection_test
from tests.fixtures.identity_providers import make_certificate, pem, saml_idp


async def portal_browser(api: httpx.AsyncClient, proxy_url: str, name: str) -> tuple[str, httpx.AsyncClient, str]:
    """(organization id, a browser holding a live session for it, its CSRF token)."""
    org_id = await create_organization(api, name)
    link = (await magic_link(api, org_id))
    browser = httpx.AsyncClient(base_url=proxy_url, timeout=15)
    assert (await browser.get(urlsplit(link["location"]).path)).status_code == 303
    csrf = (await browser.get("/portal/api/session")).json()["session"]["csrf_token"]
    return org_id, browser, csrf


def saml_body() -> dict[str, object]:
    return {
        "type": "saml",
        "provider": "okta",
        "saml": {
            "idp_entity_id": "http://www.okta.com/exk-portal",
            "sso_url": "https://acme.okta.com/app/sso/saml",
            "certificates": [pem(make_certificate())],
        },
    }


async def test_admin_creates_reads_updates_tests_and_enables_a_connection_through_the_portal(
    api: httpx.AsyncClient, proxy_url: str
):
    org_id, browser, csrf = await portal_browser(api, proxy_url, "Portal Co")
    try:
        with saml_idp() as idp:
            body = {"type": "saml", "provider": "okta", "saml": {"metadata_xml": idp.metadata()}}
            refused = await browser.post("/portal/api/connections", json=body)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"

            created = await browser.post("/portal/api/connections", json=body, headers={"X-CSRF-Token": csrf})
            assert created.status_code == 201, created.text
            connection = created.json()["connection"]
            assert connection["organization_id"] == org_id and connection["tested"] is False
            assert created.headers["etag"] == f'"{connection["version"]}"'

            listed = await browser.get("/portal/api/connections")
            assert [c["id"] for c in listed.json()["connections"]] == [connection["id"]]
            path = f"/portal/api/connections/{connection['id']}"

            # A test of the first details passes; the admin then changes them: the test no longer counts.
            first = await pass_connection_test(browser, connection["id"], csrf)
            assert first["connection_version"] == 1
            assert (await browser.get(path)).json()["connection"]["tested"] is True
            patched = await browser.patch(
                path, json={"saml": {"attribute_mapping": {"groups": "memberOf"}}},
                headers={"X-CSRF-Token": csrf, "If-Match": created.headers["etag"]},
            )
            assert patched.status_code == 200, patched.text
            assert patched.json()["connection"]["tested"] is False
            stale = await browser.patch(
                path, json={"saml": {"attribute_mapping": {"groups": "roles"}}},
                headers={"X-CSRF-Token": csrf, "If-Match": created.headers["etag"]},
            )
            assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_mismatch"

            untested = await browser.post(f"{path}/enable", headers={"X-CSRF-Token": csrf})
            assert untested.status_code == 409, untested.text
            assert untested.json()["error"]["code"] == "connection_not_tested"
            assert (await browser.get(path)).json()["connection"]["status"] == "configured"

            assert (await pass_connection_test(browser, connection["id"], csrf))["connection_version"] == 2
            enabled = await browser.post(f"{path}/enable", headers={"X-CSRF-Token": csrf})
            assert enabled.status_code == 200, enabled.text
            assert enabled.json()["connection"]["status"] == "enabled"

            # Disabling changes no detail: enabling again needs no new test.
            disabled = await browser.post(f"{path}/disable", headers={"X-CSRF-Token": csrf})
            assert disabled.json()["connection"]["status"] == "disabled" and disabled.json()["connection"]["tested"]
            again = await browser.post(f"{path}/enable", headers={"X-CSRF-Token": csrf})
            assert again.status_code == 200, again.text
    finally:
        await browser.aclose()

    managed = await api.get(f"/api/v1/organizations/{org_id}/connections")
    assert managed.status_code == 200
    assert [(c["status"], c["tested"]) for c in managed.json()["connections"]] == [("enabled", True)]


async def test_a_session_of_one_organization_can_touch_nothing_of_another(api: httpx.AsyncClient, proxy_url: str):
    _, owner, owner_csrf = await portal_browser(api, proxy_url, "Owner Org")
    _, intruder, intruder_csrf = await portal_browser(api, proxy_url, "Intruder Org")
    try:
        created = await owner.post("/portal/api/connections", json=saml_body(), headers={"X-CSRF-Token": owner_csrf})
        connection = created.json()["connection"]
        path = f"/portal/api/connections/{connection['id']}"
        headers = {"X-CSRF-Token": intruder_csrf, "If-Match": str(connection["version"])}
        attempts = [
            await intruder.get(path),
            await intruder.patch(path, json={"saml": {"sso_url": "https://evil.example.com/sso"}}, headers=headers),
            await intruder.post(f"{path}/enable", headers=headers),
            await intruder.post(f"{path}/disable", headers=headers),
            await intruder.delete(path, headers=headers),
        ]
        assert [a.status_code for a in attempts] == [404] * 5
        assert (await intruder.get("/portal/api/connections")).json()["connections"] == []
        still = await owner.get(path)
        assert still.status_code == 200
        assert still.json()["connection"]["saml"]["sso_url"] == "https://acme.okta.com/app/sso/saml"
    finally:
        await owner.aclose()
        await intruder.aclose()


async def test_connection_calls_without_a_session_are_401(proxy_url: str):
    async with httpx.AsyncClient(base_url=proxy_url) as anonymous:
        response = await anonymous.get("/portal/api/connections")
        forged = await anonymous.get(
            "/portal/api/connections",
            headers={"X-Portico-Organization": "org_x", "X-Portico-Actor": "portal_session:ses_x"},
        )
    assert response.status_code == 401 and forged.status_code == 401


async def test_forged_identity_headers_do_not_reach_a_service(proxy_url: str):
    async with httpx.AsyncClient(base_url=proxy_url) as attacker:
        response = await attacker.get(
            "/api/v1/organizations/org_x/connections",
            headers={"X-Portico-Internal-Token": "guess", "X-Portico-Actor": "api_key:key_x"},
        )
    assert response.status_code == 401


async def test_a_portal_patch_with_an_if_match_in_other_digits_is_a_400_and_changes_nothing(
    api: httpx.AsyncClient, proxy_url: str
):
    _, browser, csrf = await portal_browser(api, proxy_url, "Digits Co")
    try:
        created = (await browser.post("/portal/api/connections", json=saml_body(), headers={"X-CSRF-Token": csrf})).json()
        path = f"/portal/api/connections/{created['connection']['id']}"
        patched = await browser.patch(
            path, json={"saml": {"sso_url": "https://acme.okta.com/other"}},
            headers={"X-CSRF-Token": csrf, "If-Match": '"²"'.encode("latin-1")},
        )
        assert patched.status_code == 400 and patched.json()["error"]["code"] == "invalid_if_match"
        assert (await browser.get(path)).json()["connection"]["version"] == created["connection"]["version"]
    finally:
        await browser.aclose()
