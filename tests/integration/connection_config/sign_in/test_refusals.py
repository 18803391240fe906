"""Real Keycloak answers that must sign nobody in, each with its error code: a response addressed to another
service provider (audience), one organization's response posted to another's connection, an assertion
delivered after its lifetime, a signed assertion wrapped inside a forged one, an ID token for another nonce,
the IdP's own refusal, and a callback opened twice. What reaches Portico is what Keycloak signed; only what
an attacker (or a slow network) could change is changed: the request the browser carries to Keycloak, or the
response it carries back."""
import asyncio
import base64
import copy
import zlib
from collections.abc import Callable

import httpx
from lxml import etree

from tests.integration.connection_config.sign_in.conftest import (
    Admin,
    app_params,
    authorize_url,
    oidc_connection,
    saml_connection,
    unique,
)
from tests.integration.connection_config.sign_in.keycloak_connections import portal_admin
from tests.integration.connection_config.sign_in.test_sign_in import eventually_audited
from tests.integration.keycloak.admin import KeycloakRealm, KeycloakUser
from tests.integration.keycloak.browser import SamlPost, browser, sign_in
from tests.integration.stack import connection_config_with

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
MALLORY = "mallory@example.com"


async def redirect_to_idp(proxy_url: str, **params: str) -> httpx.URL:
    """Where Portico's /sso/v1/authorize sends the browser: the IdP, with Portico's request."""
    async with httpx.AsyncClient(timeout=15) as http:
        started = await http.get(authorize_url(proxy_url, **params))
    assert started.status_code in (302, 303), started.text
    return httpx.URL(started.headers["location"])


def rewritten_authn_request(redirect: httpx.URL, change: Callable[[etree._Element], None]) -> str:
    """Portico's HTTP-Redirect AuthnRequest (unsigned: Keycloak's client does not require signed requests)
    decoded, changed, and encoded again, with the same RelayState."""
    request = etree.fromstring(zlib.decompress(base64.b64decode(redirect.params["SAMLRequest"]), -15),
                               parser=etree.XMLParser(resolve_entities=False, no_network=True))
    change(request)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    encoded = deflate.compress(etree.tostring(request)) + deflate.flush()
    return str(redirect.copy_with(params={"SAMLRequest": base64.b64encode(encoded).decode(),
                                          "RelayState": redirect.params["RelayState"]}))


async def test_a_keycloak_response_addressed_to_another_service_provider_is_audience_mismatch(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient
) -> None:
    """Another app of the same IdP (its own SAML client) gets a response for Portico's ACS and request: the
    signature, issuer, destination and InResponseTo all match; only the audience names the other app."""
    connection_id = await saml_connection(admin, keycloak, proxy_url)
    acs = f"{proxy_url}/sso/saml/{connection_id}/acs"
    other_app = unique("https://other-app.example/saml")
    await keycloak.create_saml_client(other_app, acs)

    def issued_by_other_app(request: etree._Element) -> None:
        request.find(f"{{{SAML}}}Issuer").text = other_app  # type: ignore[union-attr]

    redirect = await redirect_to_idp(proxy_url, connection_id=connection_id, state="aud")
    async with browser() as browsing:
        posted = await sign_in(browsing, rewritten_authn_request(redirect, issued_by_other_app), user.username,
                               user.password)
        assert isinstance(posted, SamlPost) and posted.acs_url == acs
        assert other_app in base64.b64decode(posted.saml_response).decode()
        back = await browsing.post(acs, data=posted.form())
    params = app_params(back.headers["location"])
    assert (params["error"], params["state"]) == ("audience_mismatch", "aud") and "code" not in params
    assert other_app in params["error_description"] or "audience" in params["error_description"].lower()
    failed = await eventually_audited(api, admin.organization_id, "portico.sso.sign_in_failed")
    assert failed[0]["data"]["error_code"] == "audience_mismatch"  # type: ignore[index]


async def test_a_response_for_one_organizations_connection_signs_nobody_in_to_another(
    sign_in_service: None, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient
) -> None:
    """Two organizations trust the same Keycloak realm (same certificate, same issuer). A genuine response
    for the first one's connection, posted to the second one's ACS, is refused there whichever attempt it
    names, and the first one still gets its user."""
    async with portal_admin(api, proxy_url) as first, portal_admin(api, proxy_url) as second:
        first_id = await saml_connection(first, keycloak, proxy_url)
        second_id = await saml_connection(second, keycloak, proxy_url)
        second_acs = f"{proxy_url}/sso/saml/{second_id}/acs"
        async with browser() as browsing:
            posted = await sign_in(browsing, authorize_url(proxy_url, connection_id=first_id, state="first"),
                                   user.username, user.password)
        assert isinstance(posted, SamlPost)
        second_relay_state = (await redirect_to_idp(proxy_url, connection_id=second_id, state="second")).params["RelayState"]
        async with httpx.AsyncClient(timeout=15) as http:
            # With the second organization's own attempt: the response was not sent to this ACS.
            as_second = await http.post(second_acs, data={"SAMLResponse": posted.saml_response,
                                                          "RelayState": second_relay_state})
            # With the first organization's attempt: that attempt is not one of this connection.
            as_first = await http.post(second_acs, data=posted.form())
            genuine = await http.post(posted.acs_url, data=posted.form())
    params = app_params(as_second.headers["location"])
    assert (params["error"], params["state"]) == ("destination_mismatch", "second") and "code" not in params
    assert as_first.status_code == 400 and as_first.json()["error"]["code"] == "unknown_sign_in"
    assert "code" in app_params(genuine.headers["location"])
    second_attempts = (await api.get(f"/api/v1/organizations/{second.organization_id}/sign_ins",
                                     params={"kind": "sign_in"})).json()["sign_ins"]
    assert [(a["status"], a.get("email")) for a in second_attempts] == [("failed", None)]


async def test_an_assertion_delivered_after_its_lifetime_is_assertion_expired_with_the_measured_delay(
    sign_in_service: None, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient
) -> None:
    """Keycloak's assertions live 1 s for this client, Portico allows 1 s of clock skew here, and the browser
    takes 3 s to post the answer: the connection test fails, saying by how much."""
    with connection_config_with(proxy_url, PORTICO_SSO_MAX_CLOCK_SKEW_SECONDS="1"):
        async with portal_admin(api, proxy_url) as admin:
            connection_id = await saml_connection(admin, keycloak, proxy_url, enable=False,
                                                  keycloak_attributes={"saml.assertion.lifespan": "1"})
            started = (await admin.call("POST", f"/{connection_id}/tests")).json()["test"]
            async with browser() as browsing:
                posted = await sign_in(browsing, started["location"], user.username, user.password)
                assert isinstance(posted, SamlPost)
                await asyncio.sleep(3)
                await browsing.post(posted.acs_url, data=posted.form())
            test = (await admin.call("GET", f"/{connection_id}/tests/{started['id']}")).json()["test"]
            enable = await admin.call("POST", f"/{connection_id}/enable")
    assert test["status"] == "failed" and "profile" not in test
    error = test["error"]
    assert (error["code"], error["fix_in"]) == ("assertion_expired", "identity_provider"), error
    assert "1 s skew allowed" in error["expected"]
    late = int(error["actual"].rsplit(": ", 1)[1].removesuffix(" s late"))
    assert 1 <= late <= 10, error["actual"]
    assert (enable.status_code, enable.json()["error"]["code"]) == (409, "connection_not_tested")


def wrapped(saml_response: str, place: Callable[[etree._Element, etree._Element, etree._Element], None]) -> str:
    """Keycloak's response with a forged assertion for Mallory (the signed one copied, its signature dropped,
    a new ID) as the response's assertion, and the genuine signed assertion put back where `place` puts it
    (called with the response, the forged assertion and the genuine one)."""
    response = etree.fromstring(base64.b64decode(saml_response), parser=etree.XMLParser(resolve_entities=False))
    genuine = response.find(f"{{{SAML}}}Assertion")
    assert genuine is not None and genuine.find(f"{{{DS}}}Signature") is not None
    forged = copy.deepcopy(genuine)
    forged.remove(forged.find(f"{{{DS}}}Signature"))  # type: ignore[arg-type]
    forged.set("ID", "_forged" + genuine.get("ID", "")[1:])
    for value in forged.iter(f"{{{SAML}}}NameID", f"{{{SAML}}}AttributeValue"):
        if value.text and "@" in value.text:
            value.text = MALLORY
    response.replace(genuine, forged)
    place(response, forged, genuine)
    return base64.b64encode(etree.tostring(response)).decode()


def in_advice(_: etree._Element, forged: etree._Element, genuine: etree._Element) -> None:
    """The signed assertion as evidence in the forged one's Advice (a place the schema allows assertions)."""
    advice = etree.SubElement(forged, f"{{{SAML}}}Advice")
    advice.append(genuine)


def beside(response: etree._Element, _: etree._Element, genuine: etree._Element) -> None:
    """The signed assertion after the forged one, as a second assertion of the response."""
    response.append(genuine)


def in_extensions(response: etree._Element, _: etree._Element, genuine: etree._Element) -> None:
    """The signed assertion hidden in the response's Extensions, before everything else."""
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    extensions.append(genuine)
    issuer = response.find(f"{{{SAML}}}Issuer")
    (issuer if issuer is not None else response[0]).addnext(extensions)


async def test_a_signed_assertion_wrapped_inside_a_forged_one_signs_nobody_in(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient
) -> None:
    """Keycloak signs the assertion only (not the response), so the response around it can be rearranged
    without breaking a signature: the signature wrapping attacks. Each is refused, and nobody signed in."""
    await saml_connection(admin, keycloak, proxy_url, keycloak_attributes={"saml.server.signature": "false"})
    outcomes: dict[str, str] = {}
    for name, place in (("in advice", in_advice), ("beside", beside), ("in extensions", in_extensions)):
        async with browser() as browsing:
            posted = await sign_in(browsing, authorize_url(proxy_url, organization_id=admin.organization_id,
                                                           state=name), user.username, user.password)
            assert isinstance(posted, SamlPost)
            document = base64.b64decode(posted.saml_response).decode()
            assert document.count("SignatureValue>") == 2  # one signature (open and close tags): the assertion's
            back = await browsing.post(posted.acs_url, data=posted.form(wrapped(posted.saml_response, place)))
        params = app_params(back.headers["location"])
        assert "code" not in params and params["state"] == name
        assert "exactly one assertion" in params["error_description"]
        outcomes[name] = params["error"]
    # Refused before any signature is checked: an assertion anywhere but directly in the response (Advice,
    # Extensions, a second one) is how these attacks hide the signed one.
    assert set(outcomes.values()) == {"malformed_response"}, outcomes
    listed = (await api.get(f"/api/v1/organizations/{admin.organization_id}/sign_ins",
                            params={"kind": "sign_in"})).json()["sign_ins"]
    assert [a["status"] for a in listed] == ["failed"] * 3 and MALLORY not in str(listed)


async def test_an_id_token_for_another_nonce_is_nonce_mismatch(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api: httpx.AsyncClient
) -> None:
    """The nonce in the request the browser carries to Keycloak is swapped (as an attacker injecting a token
    obtained for another login would): Keycloak signs an ID token with that nonce, Portico refuses it."""
    connection_id = await oidc_connection(admin, keycloak)
    redirect = await redirect_to_idp(proxy_url, connection_id=connection_id, state="nonce")
    assert redirect.params["nonce"] and redirect.params["code_challenge_method"] == "S256"
    async with browser() as browsing:
        callback = await sign_in(browsing, str(redirect.copy_set_param("nonce", "not-the-nonce-portico-sent")),
                                 user.username, user.password)
        assert isinstance(callback, httpx.URL) and "code" in callback.params
        back = await browsing.get(callback)
    params = app_params(back.headers["location"])
    assert (params["error"], params["state"]) == ("nonce_mismatch", "nonce") and "code" not in params
    failed = await eventually_audited(api, admin.organization_id, "portico.sso.sign_in_failed")
    assert failed[0]["data"]["error_code"] == "nonce_mismatch"  # type: ignore[index]


async def test_the_idps_own_refusal_is_idp_error_with_its_reason(
    admin: Admin, keycloak: KeycloakRealm, proxy_url: str
) -> None:
    """Keycloak refuses before any login: an OIDC request for a scope it does not know, and a passive SAML
    request (IsPassive) from a browser with no Keycloak session. Both come back to the app as idp_error."""
    oidc_id = await oidc_connection(admin, keycloak)
    saml_id = await saml_connection(admin, keycloak, proxy_url)
    redirect = await redirect_to_idp(proxy_url, connection_id=oidc_id, state="scope")
    unknown_scope = redirect.copy_set_param("scope", f"{redirect.params['scope']} not-a-scope-keycloak-knows")
    async with httpx.AsyncClient(timeout=15) as http:
        refused = await http.get(unknown_scope)
        assert refused.status_code in (302, 303), refused.text
        callback = httpx.URL(refused.headers["location"])
        assert callback.params.get("error") and "code" not in callback.params
        oidc_back = await http.get(callback)

        def passive(request: etree._Element) -> None:
            request.set("IsPassive", "true")

        saml_redirect = await redirect_to_idp(proxy_url, connection_id=saml_id, state="passive")
        async with browser() as browsing:
            page = await browsing.get(rewritten_authn_request(saml_redirect, passive))
        assert "SAMLResponse" in page.text, page.text[:500]
        response_form = etree.HTML(page.text).find(".//form")
        fields = {field.get("name"): field.get("value") for field in response_form.iter("input") if field.get("name")}
        saml_back = await http.post(response_form.get("action"), data=fields)
    oidc_params = app_params(oidc_back.headers["location"])
    assert (oidc_params["error"], oidc_params["state"]) == ("idp_error", "scope") and "code" not in oidc_params
    assert oidc_params["error_description"]
    saml_params = app_params(saml_back.headers["location"])
    assert (saml_params["error"], saml_params["state"]) == ("idp_error", "passive") and "code" not in saml_params


async def test_an_oidc_callback_opened_again_after_the_sign_in_is_sign_in_expired(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str
) -> None:
    """The browser's back button (or a copied URL) sends Keycloak's callback a second time: the attempt is
    over, so no second code, whatever Keycloak would say of its own code."""
    connection_id = await oidc_connection(admin, keycloak)
    async with browser() as browsing:
        callback = await sign_in(browsing, authorize_url(proxy_url, connection_id=connection_id, state="back"),
                                 user.username, user.password)
        assert isinstance(callback, httpx.URL)
        first = app_params((await browsing.get(callback)).headers["location"])
        again = app_params((await browsing.get(callback)).headers["location"])
    assert "code" in first and first["state"] == "back"
    assert (again["error"], again["state"]) == ("sign_in_expired", "back") and "code" not in again
