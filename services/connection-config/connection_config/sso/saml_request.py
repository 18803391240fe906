"""The SAML AuthnRequest Portico sends (SP-initiated sign-in) and its HTTP-Redirect encoding."""
import base64
import secrets
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from connection_config import saml
from connection_config.model import Connection

SAML_ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
SAML_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
MAX_RELAY_STATE_BYTES = 80  # SAML bindings 3.4.3: RelayState MUST NOT exceed 80 bytes


@dataclass(frozen=True)
class ServiceProvider:
    """Portico's side of one connection (`C.sp`): where the IdP sends the user back, and who it speaks to."""

    entity_id: str
    acs_url: str

    @classmethod
    def for_connection(cls, public_url: str, connection_id: str) -> "ServiceProvider":
        values = saml.service_provider_values(public_url, connection_id)
        return cls(entity_id=values["entity_id"], acs_url=values["acs_url"])


@dataclass(frozen=True)
class AuthnRequest:
    id: str  # the InResponseTo the response must carry: keep it with the pending sign-in
    issue_instant: datetime
    xml: bytes
    redirect_url: str


def saml_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def authn_request_xml(
    *, request_id: str, issue_instant: datetime, sp: ServiceProvider, idp_sso_url: str, name_id_format: str,
) -> bytes:
    ET.register_namespace("samlp", SAML_PROTOCOL)
    ET.register_namespace("saml", SAML_ASSERTION)
    request = ET.Element(f"{{{SAML_PROTOCOL}}}AuthnRequest", {
        "ID": request_id,
        "Version": "2.0",
        "IssueInstant": saml_instant(issue_instant),
        "Destination": idp_sso_url,
        "AssertionConsumerServiceURL": sp.acs_url,
        "ProtocolBinding": saml.BINDINGS["HTTP-POST"],
    })
    ET.SubElement(request, f"{{{SAML_ASSERTION}}}Issuer").text = sp.entity_id
    ET.SubElement(request, f"{{{SAML_PROTOCOL}}}NameIDPolicy", {"Format": name_id_format, "AllowCreate": "true"})
    document: bytes = ET.tostring(request, encoding="utf-8", xml_declaration=False)
    return document


def redirect_binding_url(idp_sso_url: str, authn_request: bytes, relay_state: str | None) -> str:
    """HTTP-Redirect binding (SAML bindings 3.4.4.1): raw DEFLATE, base64, then the query parameters."""
    if relay_state is not None and len(relay_state.encode()) > MAX_RELAY_STATE_BYTES:
        raise ValueError(f"RelayState is limited to {MAX_RELAY_STATE_BYTES} bytes")
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    encoded = base64.b64encode(deflater.compress(authn_request) + deflater.flush()).decode()
    params = {"SAMLRequest": encoded}
    if relay_state is not None:
        params["RelayState"] = relay_state
    parts = urlsplit(idp_sso_url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def start_saml_sign_in(
    connection: Connection, sp: ServiceProvider, *, now: datetime, relay_state: str | None,
    token_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> AuthnRequest:
    """The AuthnRequest for an enabled (or tested) SAML connection, and the URL to send the browser to."""
    settings = connection.saml
    if connection.type != "saml" or settings is None or not settings.sso_url:
        raise ValueError(f"connection {connection.id} has no SAML SSO URL")
    request_id = "id_" + token_bytes(20).hex()  # an xs:ID must not start with a digit
    xml = authn_request_xml(request_id=request_id, issue_instant=now, sp=sp, idp_sso_url=settings.sso_url,
                            name_id_format=settings.name_id_format)
    return AuthnRequest(request_id, now, xml, redirect_binding_url(settings.sso_url, xml, relay_state))
