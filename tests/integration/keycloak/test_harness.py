"""The sign-in tests' Keycloak on its own, without Portico: the harness configures it over REST and
completes real OIDC and SAML logins. Signatures are not checked here; that is the SSO library's job."""
import base64
import hashlib
import json
import secrets
import zlib
from datetime import UTC, datetime
from urllib.parse import urlencode
from xml.etree.ElementTree import Element

import httpx
import pytest
from defusedxml.ElementTree import fromstring

from tests.integration.keycloak.admin import KeycloakRealm, make_user, unique
from tests.integration.keycloak.browser import SamlPost, SignInFailed, browser, sign_in

SP = "http://127.0.0.1:9/portico"  # never reached: sign_in stops where the browser leaves Keycloak
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}


def id_token_claims(id_token: str) -> dict[str, object]:
    payload = id_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def saml_redirect_url(keycloak: KeycloakRealm, entity_id: str, acs_url: str, request_id: str, relay_state: str) -> str:
    """An SP-initiated AuthnRequest over HTTP-Redirect (unsigned), asking for the answer on HTTP-POST."""
    request = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="{request_id}" Version="2.0" IssueInstant="{datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}" '
        f'Destination="{keycloak.saml_sso_url}" AssertionConsumerServiceURL="{acs_url}" '
        'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
        f"<saml:Issuer>{entity_id}</saml:Issuer>"
        '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/>'
        "</samlp:AuthnRequest>"
    )
    deflate = zlib.compressobj(wbits=-15)
    deflated = deflate.compress(request.encode()) + deflate.flush()
    return f"{keycloak.saml_sso_url}?{urlencode({'SAMLRequest': base64.b64encode(deflated), 'RelayState': relay_state})}"


def sp_metadata(entity_id: str, acs_url: str) -> str:
    return (
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">'
        '<md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{acs_url}" index="0" isDefault="true"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )


def saml_attributes(assertion: Element) -> dict[str | None, list[str | None]]:
    return {
        attribute.get("Name"): [value.text for value in attribute.findall("saml:AttributeValue", NS)]
        for attribute in assertion.findall("saml:AttributeStatement/saml:Attribute", NS)
    }


async def test_oidc_code_flow_with_pkce_returns_an_id_token_with_email_and_groups(keycloak: KeycloakRealm) -> None:
    user = await make_user(keycloak)
    redirect_uri = f"{SP}/oidc/callback"
    client = await keycloak.create_oidc_client(unique("portico"), [redirect_uri], claims_from_attributes=["department"])
    async with httpx.AsyncClient(timeout=30) as http:
        discovery = (await http.get(keycloak.oidc_discovery_url)).raise_for_status().json()
        verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        authorize_url = f"{discovery['authorization_endpoint']}?" + urlencode({
            "response_type": "code", "client_id": client.client_id, "redirect_uri": redirect_uri,
            "scope": "openid email profile", "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256",
        })
        async with browser() as browsing:
            landed = await sign_in(browsing, authorize_url, user.username, user.password)

        assert isinstance(landed, httpx.URL)
        assert str(landed.copy_with(query=None)) == redirect_uri
        assert landed.params["state"] == state
        tokens = await http.post(discovery["token_endpoint"], auth=(client.client_id, client.secret or ""), data={
            "grant_type": "authorization_code", "code": landed.params["code"],
            "redirect_uri": redirect_uri, "code_verifier": verifier,
        })
    assert tokens.status_code == 200, tokens.text
    claims = id_token_claims(tokens.json()["id_token"])
    assert claims["iss"] == keycloak.issuer == discovery["issuer"]
    assert claims["aud"] == client.client_id
    assert claims["nonce"] == nonce
    assert (claims["email"], claims["given_name"], claims["family_name"]) == (user.email, "Ada", "Lovelace")
    assert claims["groups"] == list(user.groups)
    assert claims["department"] == "Analytical Engines"


async def test_oidc_client_refuses_an_authorization_without_pkce(keycloak: KeycloakRealm) -> None:
    user = await make_user(keycloak)
    redirect_uri = f"{SP}/oidc/callback"
    client = await keycloak.create_oidc_client(unique("portico"), [redirect_uri])
    authorize_url = f"{keycloak.issuer}/protocol/openid-connect/auth?" + urlencode({
        "response_type": "code", "client_id": client.client_id, "redirect_uri": redirect_uri,
        "scope": "openid", "state": "s1",
    })
    async with browser() as browsing:
        landed = await sign_in(browsing, authorize_url, user.username, user.password)
    assert isinstance(landed, httpx.URL)
    assert landed.params["error"] == "invalid_request"
    assert "code_challenge" in landed.params["error_description"]


@pytest.mark.parametrize("from_metadata", [False, True], ids=["entity id and ACS", "SP metadata"])
async def test_saml_login_returns_an_assertion_signed_by_the_metadata_certificate_with_the_users_attributes(
    keycloak: KeycloakRealm, from_metadata: bool
) -> None:
    user = await make_user(keycloak)
    entity_id, acs_url = f"{SP}/saml/{unique('sp')}", f"{SP}/saml/acs"
    if from_metadata:
        await keycloak.create_saml_client_from_metadata(sp_metadata(entity_id, acs_url), attributes_from_user=["department"])
    else:
        await keycloak.create_saml_client(entity_id, acs_url, attributes_from_user=["department"])
    request_id, relay_state = f"_{secrets.token_hex(16)}", secrets.token_urlsafe(16)

    async with browser() as browsing:
        posted = await sign_in(browsing, saml_redirect_url(keycloak, entity_id, acs_url, request_id, relay_state),
                               user.username, user.password)

    assert isinstance(posted, SamlPost)
    assert (posted.acs_url, posted.relay_state) == (acs_url, relay_state)
    response = fromstring(base64.b64decode(posted.saml_response))
    assert (response.get("Destination"), response.get("InResponseTo")) == (acs_url, request_id)
    assert response.find("samlp:Status/samlp:StatusCode", NS).get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Success"
    assertion = response.find("saml:Assertion", NS)
    assert assertion.findtext("saml:Issuer", namespaces=NS) == keycloak.issuer
    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    assert (name_id.text, name_id.get("Format")) == (user.email, "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    assert assertion.findtext("saml:Conditions/saml:AudienceRestriction/saml:Audience", namespaces=NS) == entity_id
    signature = assertion.find("ds:Signature", NS)
    assert signature.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    metadata = fromstring(await keycloak.saml_metadata())
    assert metadata.get("entityID") == keycloak.issuer
    signing_certificate = metadata.findtext("md:IDPSSODescriptor/md:KeyDescriptor[@use='signing']//ds:X509Certificate", namespaces=NS)
    assert signature.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS) == signing_certificate
    assert saml_attributes(assertion) == {
        "email": [user.email], "firstName": ["Ada"], "lastName": ["Lovelace"],
        "groups": list(user.groups), "department": ["Analytical Engines"],
    }


async def test_a_wrong_password_stops_at_keycloaks_login_form(keycloak: KeycloakRealm) -> None:
    user = await make_user(keycloak)
    redirect_uri = f"{SP}/oidc/callback"
    client = await keycloak.create_oidc_client(unique("portico"), [redirect_uri])
    authorize_url = f"{keycloak.issuer}/protocol/openid-connect/auth?" + urlencode({
        "response_type": "code", "client_id": client.client_id, "redirect_uri": redirect_uri, "scope": "openid",
        "state": "s1", "code_challenge": "x" * 43, "code_challenge_method": "S256",
    })
    async with browser() as browsing:
        with pytest.raises(SignInFailed, match="Invalid username or password"):
            await sign_in(browsing, authorize_url, user.username, "not-the-password")
