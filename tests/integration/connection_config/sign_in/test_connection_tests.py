"""An IT admin tests a connection from the portal: the test signs in at Keycloak for real, lands on the portal's
result page, yields no code, and its result (profile, or the error with who must fix it) is read back by the
portal, for the session's organization only."""
from urllib.parse import urlsplit

import httpx

from shared.settings import Settings
from tests.factories import create_organization, magic_link
from tests.integration.connection_config.sign_in.conftest import Admin, oidc_connection, saml_connection
from tests.integration.connection_config.sign_in.test_sign_in import eventually_audited
from tests.integration.keycloak.admin import KeycloakRealm, KeycloakUser
from tests.integration.keycloak.browser import SamlPost, browser, sign_in
from tests.integration.metrics_scrape import sample, scrape


async def start_test(admin: Admin, connection_id: str) -> dict[str, str]:
    started = await admin.call("POST", f"/{connection_id}/tests")
    assert started.status_code == 201, started.text
    test = started.json()["test"]
    assert test["id"].startswith("tst_") and test["status"] == "pending"
    return dict(test)


async def test_a_saml_test_of_a_connection_not_yet_enabled_succeeds_and_yields_no_code(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient,
    settings: Settings,
) -> None:
    metrics_before = await scrape(settings.connection_config_port)
    connection_id = await saml_connection(admin, keycloak, proxy_url, enable=False)
    test = await start_test(admin, connection_id)
    assert test["location"].startswith(f"{proxy_url}/sso/")
    async with browser() as browsing:
        posted = await sign_in(browsing, test["location"], user.username, user.password)
        assert isinstance(posted, SamlPost) and posted.relay_state == test["id"]
        back = await browsing.post(posted.acs_url, data=posted.form())
    assert back.status_code == 303
    assert back.headers["location"] == f"{proxy_url}/portal/connections/{connection_id}/tests/{test['id']}"
    assert "code=" not in back.headers["location"]

    result = await admin.call("GET", f"/{connection_id}/tests/{test['id']}")
    assert result.status_code == 200, result.text
    shown = result.json()["test"]
    assert (shown["id"], shown["status"]) == (test["id"], "succeeded")
    assert shown["connection_version"] == 1
    assert shown["profile"]["email"] == user.email and shown["profile"]["groups"] == list(user.groups)
    assert shown["details"]["signature_algorithm"].endswith("rsa-sha256")
    assert "error" not in shown
    succeeded = await eventually_audited(api, admin.organization_id, "portico.connection.test_succeeded")
    assert succeeded[0]["actor"]["kind"] == "portal_session"  # type: ignore[index]
    metrics_after = await scrape(settings.connection_config_port)
    for family, labels in (("portico_sign_ins", {"protocol": "saml", "kind": "test", "outcome": "succeeded"}),
                           ("portico_connection_changes", {"type": "saml", "change": "created"})):
        assert sample(metrics_after, family, **labels) == sample(metrics_before, family, **labels) + 1, family


async def test_a_failed_oidc_test_shows_the_error_and_who_must_fix_it(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient,
    settings: Settings,
) -> None:
    metrics_before = await scrape(settings.connection_config_port)
    connection_id = await oidc_connection(admin, keycloak, client_secret="a-wrong-client-secret-for-this-test",
                                          enable=False)
    test = await start_test(admin, connection_id)
    async with browser() as browsing:
        callback = await sign_in(browsing, test["location"], user.username, user.password)
        assert isinstance(callback, httpx.URL) and callback.params["state"] == test["id"]
        back = await browsing.get(callback)
    assert back.headers["location"] == f"{proxy_url}/portal/connections/{connection_id}/tests/{test['id']}"
    shown = (await admin.call("GET", f"/{connection_id}/tests/{test['id']}")).json()["test"]
    assert shown["status"] == "failed" and "profile" not in shown
    error = shown["error"]
    assert (error["code"], error["fix_in"]) == ("token_exchange_failed", "portico")
    assert error["message"] and error["actual"].startswith("HTTP 401")
    failed = await eventually_audited(api, admin.organization_id, "portico.connection.test_failed")
    assert failed[0]["data"]["error_code"] == "token_exchange_failed"  # type: ignore[index]
    failures = {"protocol": "oidc", "kind": "test", "outcome": "token_exchange_failed"}
    assert sample(await scrape(settings.connection_config_port), "portico_sign_ins", **failures) == \
        sample(metrics_before, "portico_sign_ins", **failures) + 1


async def test_tests_of_another_organization_are_404(
    admin: Admin, keycloak: KeycloakRealm, proxy_url: str, api: httpx.AsyncClient
) -> None:
    connection_id = await saml_connection(admin, keycloak, proxy_url, enable=False)
    test = await start_test(admin, connection_id)
    incomplete = await admin.create({"type": "oidc", "provider": "keycloak", "oidc": {"issuer": keycloak.issuer}})
    refused = await admin.call("POST", f"/{incomplete['id']}/tests")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "connection_incomplete")

    other_org = await create_organization(api, "Other Co")
    link = await magic_link(api, other_org)
    async with httpx.AsyncClient(base_url=proxy_url, timeout=15) as other:
        assert (await other.get(urlsplit(link["location"]).path)).status_code == 303
        csrf = (await other.get("/portal/api/session")).json()["session"]["csrf_token"]
        stranger = Admin(other_org, other, csrf)
        assert (await stranger.call("GET", f"/{connection_id}/tests/{test['id']}")).status_code == 404
        assert (await stranger.call("POST", f"/{connection_id}/tests")).status_code == 404
        assert (await stranger.call("GET", f"/{connection_id}/tests/tst_{'0' * 26}")).status_code == 404
