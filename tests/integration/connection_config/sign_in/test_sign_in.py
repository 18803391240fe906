"""An app signs users in through Portico against a real Keycloak: authorize → IdP → ACS or callback → one-time
code → profile with the API key. And every way it must not: replay, code reuse, a wrong client secret, a
connection not enabled, a redirect URI that is not registered. Each attempt reaches the audit log."""
import asyncio
import base64

import httpx

from tests.integration.connection_config.sign_in.conftest import (
    Admin,
    app_params,
    authorize_url,
    oidc_connection,
    saml_connection,
)
from tests.integration.connection_config.sign_in.keycloak_connections import portal_admin
from tests.integration.keycloak.admin import KeycloakRealm, KeycloakUser, keycloak_realm, make_user
from tests.integration.keycloak.browser import SamlPost, browser, sign_in
from tests.integration.polling import eventually
from tests.integration.stack import ROOT

RUN_LOGS = ROOT / ".run" / "logs"


def logged(secrets_by_name: dict[str, str]) -> list[str]:
    """Which of these values any log of the run holds (service, proxy, Kafka and Keycloak logs alike)."""
    files = [path for path in sorted(RUN_LOGS.rglob("*")) if path.is_file()]
    return [f"{name} in {path.name}" for path in files for name, value in secrets_by_name.items()
            if value.encode() in path.read_bytes()]


async def audit_types(api: httpx.AsyncClient, organization_id: str, prefix: str) -> list[dict[str, object]]:
    async def read() -> list[dict[str, object]]:
        answer = await api.get("/api/v1/audit/events", params={"organization_id": organization_id, "limit": 200})
        assert answer.status_code == 200, answer.text
        return [event for event in answer.json()["events"] if str(event["type"]).startswith(prefix)]
    return await read()


async def eventually_audited(
    api: httpx.AsyncClient, organization_id: str, event_type: str, count: int = 1
) -> list[dict[str, object]]:
    events = await eventually(lambda: audit_types(api, organization_id, event_type),
                              lambda found: len(found) >= count, timeout_s=20)
    assert len(events) == count, events
    return events


async def saml_sign_in(proxy_url: str, user: KeycloakUser, state: str, **target: str) -> dict[str, str]:
    """A user's whole SAML sign-in through Portico at Keycloak (`target`: organization_id or connection_id);
    what Portico sends the app back with."""
    async with browser() as browsing:
        posted = await sign_in(browsing, authorize_url(proxy_url, state=state, **target), user.username, user.password)
        assert isinstance(posted, SamlPost)
        back = await browsing.post(posted.acs_url, data=posted.form())
    return app_params(back.headers["location"])


def assert_profile(profile: dict[str, object], user: KeycloakUser, connection_id: str, organization_id: str,
                   connection_type: str) -> None:
    assert profile["email"] == user.email
    assert (profile["first_name"], profile["last_name"]) == ("Ada", "Lovelace")
    assert profile["groups"] == list(user.groups)
    assert (profile["connection_id"], profile["organization_id"]) == (connection_id, organization_id)
    assert profile["connection_type"] == connection_type
    assert str(profile["id"]).startswith("prof_") and profile["idp_id"]


async def test_saml_sign_in_yields_a_code_the_app_exchanges_once_for_the_profile(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient
) -> None:
    connection_id = await saml_connection(admin, keycloak, proxy_url)
    async with browser() as browsing:
        posted = await sign_in(browsing, authorize_url(proxy_url, organization_id=admin.organization_id,
                                                       state="app-state-1"), user.username, user.password)
        assert isinstance(posted, SamlPost)
        assert posted.acs_url == f"{proxy_url}/sso/saml/{connection_id}/acs"
        assert posted.relay_state is not None and posted.relay_state.startswith("sgn_")
        back = await browsing.post(posted.acs_url, data=posted.form())
        assert back.status_code == 303, back.text
        params = app_params(back.headers["location"])
        assert params["state"] == "app-state-1" and "error" not in params

        # The same response again: refused as a replay, and no second code.
        replayed = await browsing.post(posted.acs_url, data=posted.form())
    assert replayed.status_code == 303
    again = app_params(replayed.headers["location"])
    assert again["error"] == "assertion_replayed" and "code" not in again and again["state"] == "app-state-1"

    exchanged = await api.post("/api/v1/sso/token", json={"code": params["code"]})
    assert exchanged.status_code == 200, exchanged.text
    profile = exchanged.json()["profile"]
    assert_profile(profile, user, connection_id, admin.organization_id, "saml")
    assert profile["idp_id"] == user.email  # the NameID
    assert profile["raw_attributes"]["department"] == ["Analytical Engines"]

    reused = await api.post("/api/v1/sso/token", json={"code": params["code"]})
    assert reused.status_code == 400 and reused.json()["error"]["code"] == "invalid_grant"

    signed_in = await eventually_audited(api, admin.organization_id, "portico.sso.signed_in")
    data = signed_in[0]["data"]
    assert isinstance(data, dict)
    assert (data["connection_id"], data["attempt_id"], data["email"]) == (connection_id, posted.relay_state, user.email)
    failed = await eventually_audited(api, admin.organization_id, "portico.sso.sign_in_failed")
    assert failed[0]["data"]["error_code"] == "assertion_replayed"  # type: ignore[index]
    audited = str(signed_in + failed)
    assert posted.saml_response[:40] not in audited and params["code"] not in audited
    assert logged({"code": params["code"], "SAMLResponse": posted.saml_response[100:160]}) == []


async def test_oidc_sign_in_yields_a_code_the_app_exchanges_for_the_profile(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient
) -> None:
    connection_id = await oidc_connection(admin, keycloak)
    async with browser() as browsing:
        callback = await sign_in(browsing, authorize_url(proxy_url, connection_id=connection_id, state="s-oidc"),
                                 user.username, user.password)
        assert isinstance(callback, httpx.URL)
        assert str(callback.copy_with(query=None)) == f"{proxy_url}/sso/oidc/{connection_id}/callback"
        assert callback.params["state"].startswith("sgn_")
        back = await browsing.get(callback)
    assert back.status_code == 303, back.text
    params = app_params(back.headers["location"])
    assert params["state"] == "s-oidc"

    exchanged = await api.post("/api/v1/sso/token", json={"code": params["code"]})
    assert exchanged.status_code == 200, exchanged.text
    profile = exchanged.json()["profile"]
    assert_profile(profile, user, connection_id, admin.organization_id, "oidc")
    assert profile["raw_attributes"]["department"] == "Analytical Engines"
    assert (await api.post("/api/v1/sso/token", json={"code": params["code"]})).json()["error"]["code"] == "invalid_grant"
    await eventually_audited(api, admin.organization_id, "portico.sso.signed_in")
    assert logged({"app's code": params["code"], "IdP's code": callback.params["code"]}) == []


async def test_a_client_secret_rotated_at_the_idp_fails_the_token_exchange_and_signs_nobody_in(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient
) -> None:
    """Tested and enabled, then Keycloak's admin regenerates the client secret: Portico's sealed one is wrong."""
    connection_id = await oidc_connection(admin, keycloak)
    client_id = (await admin.call("GET", f"/{connection_id}")).json()["connection"]["oidc"]["client_id"]
    await keycloak.regenerate_client_secret(client_id)
    async with browser() as browsing:
        callback = await sign_in(browsing, authorize_url(proxy_url, connection_id=connection_id, state="s2"),
                                 user.username, user.password)
        assert isinstance(callback, httpx.URL)
        back = await browsing.get(callback)
    params = app_params(back.headers["location"])
    assert params["error"] == "token_exchange_failed" and "code" not in params and params["state"] == "s2"
    assert params["error_description"]
    failed = await eventually_audited(api, admin.organization_id, "portico.sso.sign_in_failed")
    assert failed[0]["data"]["error_code"] == "token_exchange_failed"  # type: ignore[index]
    listed = await api.get(f"/api/v1/organizations/{admin.organization_id}/sign_ins", params={"status": "succeeded"})
    assert [attempt["kind"] for attempt in listed.json()["sign_ins"]] == ["test"]  # nobody signed in


async def test_a_connection_not_enabled_sends_the_app_connection_not_enabled(
    admin: Admin, keycloak: KeycloakRealm, proxy_url: str, api: httpx.AsyncClient
) -> None:
    await saml_connection(admin, keycloak, proxy_url, enable=False)
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(authorize_url(proxy_url, organization_id=admin.organization_id, state="s3"))
    assert answer.status_code == 303
    params = app_params(answer.headers["location"])
    assert (params["error"], params["state"]) == ("connection_not_enabled", "s3")
    await eventually_audited(api, admin.organization_id, "portico.sso.sign_in_failed")


async def test_an_unregistered_redirect_uri_is_a_400_and_no_redirect(admin: Admin, proxy_url: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for redirect_uri in ("https://evil.example/callback", "http://127.0.0.1:9/app/sso/callback/", ""):
            answer = await http.get(f"{proxy_url}/sso/v1/authorize", params={
                "organization_id": admin.organization_id, "redirect_uri": redirect_uri, "state": "x"})
            assert answer.status_code == 400, answer.text
            assert "location" not in answer.headers
            assert answer.json()["error"]["field"] == "redirect_uri"


async def test_authorize_names_the_field_it_cannot_use(admin: Admin, proxy_url: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        missing = await http.get(authorize_url(proxy_url))
        unknown = await http.get(authorize_url(proxy_url, connection_id="conn_" + "0" * 26))
        malformed = await http.get(authorize_url(proxy_url, organization_id="nope"))
    assert (missing.status_code, missing.json()["error"]["field"]) == (400, "organization_id")
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (400, "connection_id")
    assert (malformed.status_code, malformed.json()["error"]["field"]) == (400, "organization_id")


async def test_an_unknown_code_or_a_call_without_an_api_key_gets_no_profile(proxy_url: str, api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/v1/sso/token", json={"code": "made-up"})).json()["error"]["code"] == "invalid_grant"
    missing = await api.post("/api/v1/sso/token", json={})
    assert missing.status_code in (400, 422) and missing.json()["error"]["field"] == "code"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(f"{proxy_url}/api/v1/sso/token", json={"code": "x"})).status_code == 401


async def test_an_answer_naming_no_sign_in_is_a_400(admin: Admin, keycloak: KeycloakRealm, proxy_url: str) -> None:
    connection_id = await saml_connection(admin, keycloak, proxy_url)
    async with httpx.AsyncClient(timeout=10) as http:
        acs = await http.post(f"{proxy_url}/sso/saml/{connection_id}/acs", data={"SAMLResponse": "PHg+", "RelayState": "x"})
        callback = await http.get(f"{proxy_url}/sso/oidc/{connection_id}/callback", params={"code": "c", "state": "sgn_x"})
    assert (acs.status_code, acs.json()["error"]["code"]) == (400, "unknown_sign_in")
    assert (callback.status_code, callback.json()["error"]["field"]) == (400, "state")


async def test_one_saml_response_posted_twice_at_once_yields_one_code(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str
) -> None:
    await saml_connection(admin, keycloak, proxy_url)
    async with browser() as browsing:
        posted = await sign_in(browsing, authorize_url(proxy_url, organization_id=admin.organization_id, state="race"),
                               user.username, user.password)
        assert isinstance(posted, SamlPost)
        form = posted.form()
        answers = await asyncio.gather(*(browsing.post(posted.acs_url, data=form) for _ in range(4)))
    outcomes = sorted(app_params(answer.headers["location"]).get("error", "code") for answer in answers)
    assert outcomes == ["assertion_replayed"] * 3 + ["code"]


async def test_after_the_idp_rotates_its_key_responses_are_certificate_mismatch_until_the_connection_is_updated(
    api: httpx.AsyncClient, proxy_url: str, sign_in_service: None
) -> None:
    """Tested and enabled, then Keycloak signs with a new key (a realm of its own: the others keep theirs).
    Nobody signs in with a certificate the connection does not trust; re-reading the metadata, a new test and
    the same sign-in work again."""
    async with keycloak_realm() as own, portal_admin(api, proxy_url) as admin:
        user = await make_user(own)
        connection_id = await saml_connection(admin, own, proxy_url)
        await own.rotate_signing_key()

        params = await saml_sign_in(proxy_url, user, "cert", connection_id=connection_id)
        assert (params["error"], params["state"]) == ("certificate_mismatch", "cert") and "code" not in params
        failed = await eventually_audited(api, admin.organization_id, "portico.sso.sign_in_failed")
        assert failed[0]["data"]["fix_in"] == "portico"  # type: ignore[index]

        current = (await admin.call("GET", f"/{connection_id}")).json()["connection"]
        updated = await admin.call("PATCH", f"/{connection_id}", headers={"If-Match": str(current["version"])},
                                   json={"saml": {"metadata_xml": await own.saml_metadata()}})
        assert updated.status_code == 200, updated.text
        assert len(updated.json()["connection"]["saml"]["certificates"]) == 2
        assert (await admin.test_at_keycloak(connection_id, user))["status"] == "succeeded"
        assert "code" in await saml_sign_in(proxy_url, user, "again", connection_id=connection_id)


async def test_a_response_changed_after_keycloak_signed_it_is_signature_invalid(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str
) -> None:
    await saml_connection(admin, keycloak, proxy_url)
    async with browser() as browsing:
        posted = await sign_in(browsing, authorize_url(proxy_url, organization_id=admin.organization_id, state="t"),
                               user.username, user.password)
        assert isinstance(posted, SamlPost)
        document = base64.b64decode(posted.saml_response).decode()
        assert document.count(user.email) >= 2
        tampered = document.replace(user.email, "mallory@example.com")
        back = await browsing.post(posted.acs_url, data=posted.form(base64.b64encode(tampered.encode()).decode()))
        params = app_params(back.headers["location"])
        assert params["error"] == "signature_invalid" and "code" not in params

        # The attempt has failed: the genuine response is refused too, and the app gets no code.
        genuine = await browsing.post(posted.acs_url, data=posted.form())
    assert "code" not in app_params(genuine.headers["location"])


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Version="2.0">&c;</samlp:Response>'
)


async def test_hostile_posts_to_the_acs_are_refused_without_a_code_or_a_server_error(
    admin: Admin, keycloak: KeycloakRealm, proxy_url: str
) -> None:
    """No login needed: the attempt's RelayState is in the redirect to Keycloak."""
    connection_id = await saml_connection(admin, keycloak, proxy_url)
    acs = f"{proxy_url}/sso/saml/{connection_id}/acs"
    async with httpx.AsyncClient(timeout=15) as http:
        started = await http.get(authorize_url(proxy_url, organization_id=admin.organization_id, state="h"))
        relay_state = httpx.URL(started.headers["location"]).params["RelayState"]
        answers = {
            "bomb": await http.post(acs, data={"SAMLResponse": base64.b64encode(BILLION_LAUGHS.encode()).decode(),
                                               "RelayState": relay_state}),
            "not base64": await http.post(acs, data={"SAMLResponse": "%%%", "RelayState": relay_state}),
        }
        too_large = await http.post(acs, content=b"SAMLResponse=" + b"A" * (3 * 1024 * 1024),
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        no_response = await http.post(acs, data={"RelayState": relay_state})
    for name, answer in answers.items():
        assert answer.status_code == 303, (name, answer.text)
        params = app_params(answer.headers["location"])
        assert params["error"] == "malformed_response" and "code" not in params, name
    assert too_large.status_code == 413
    assert (no_response.status_code, no_response.json()["error"]["field"]) == (400, "SAMLResponse")
