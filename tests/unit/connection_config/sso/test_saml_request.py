"""The AuthnRequest Portico sends and its HTTP-Redirect encoding, read back as an IdP would (pysaml2)."""
import base64
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree
from saml2.samlp import authn_request_from_string

from connection_config.model import Connection, SamlSettings
from connection_config.sso.saml_request import (
    ServiceProvider,
    authn_request_xml,
    redirect_binding_url,
    start_saml_sign_in,
)
from tests.unit.connection_config.sso.idp import NOW, SAML, SAMLP

SSO_URL = "https://idp.example.org/realms/acme/protocol/saml"


def connection(**saml: object) -> Connection:
    return Connection(
        id="conn_1", organization_id="org_1", type="saml", provider="keycloak", status="enabled", version=2,
        created_at=NOW, created_by="user:1", updated_at=NOW, updated_by="user:1",
        saml=SamlSettings(**{"idp_entity_id": "https://idp.example.org/realms/acme", "sso_url": SSO_URL} | saml),
    )


def inflate(url: str) -> tuple[bytes, dict[str, list[str]]]:
    query = parse_qs(urlsplit(url).query)
    return zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15), query


def test_service_provider_values_come_from_the_connections_sp_metadata():
    sp = ServiceProvider.for_connection("https://portico.example.com/", "conn_1")
    assert sp == ServiceProvider("https://portico.example.com/sso/saml/conn_1",
                                 "https://portico.example.com/sso/saml/conn_1/acs")


def test_sign_in_request_names_us_the_idp_and_the_post_acs():
    sp = ServiceProvider.for_connection("https://portico.example.com", "conn_1")
    request = start_saml_sign_in(connection(), sp, now=NOW, relay_state="rs_123",
                                 token_bytes=lambda size: b"\x01" * size)
    assert request.id == "id_" + "01" * 20
    xml, query = inflate(request.redirect_url)
    assert xml == request.xml
    assert query["RelayState"] == ["rs_123"]
    assert request.redirect_url.startswith(SSO_URL + "?SAMLRequest=")

    parsed = authn_request_from_string(xml.decode())  # a real SAML implementation reads it
    assert (parsed.id, parsed.version, parsed.issue_instant) == (request.id, "2.0", "2026-03-01T12:00:00Z")
    assert (parsed.destination, parsed.assertion_consumer_service_url) == (SSO_URL, sp.acs_url)
    assert parsed.protocol_binding == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert parsed.issuer.text == sp.entity_id
    assert parsed.name_id_policy.format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def test_name_id_policy_follows_the_connection():
    sp = ServiceProvider.for_connection("https://portico.example.com", "conn_1")
    unspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    request = start_saml_sign_in(connection(name_id_format=unspecified), sp, now=NOW, relay_state=None)
    root = etree.fromstring(request.xml)
    assert root.find(f"{{{SAMLP}}}NameIDPolicy").get("Format") == unspecified
    assert root.find(f"{{{SAML}}}Issuer").text == sp.entity_id
    assert "RelayState" not in inflate(request.redirect_url)[1]


def test_sso_url_with_its_own_query_keeps_it():
    xml = authn_request_xml(request_id="id_1", issue_instant=NOW, sp=ServiceProvider("e", "a"),
                            idp_sso_url="https://idp/sso?tenant=7", name_id_format="f")
    url = redirect_binding_url("https://idp/sso?tenant=7", xml, "r")
    query = parse_qs(urlsplit(url).query)
    assert query["tenant"] == ["7"] and query["RelayState"] == ["r"]


def test_relay_state_over_80_bytes_is_refused():
    with pytest.raises(ValueError):
        redirect_binding_url(SSO_URL, b"<x/>", "r" * 81)


def test_connection_without_an_sso_url_cannot_start():
    with pytest.raises(ValueError):
        start_saml_sign_in(connection(sso_url=None), ServiceProvider("e", "a"), now=NOW, relay_state=None)
