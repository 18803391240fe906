"""A SAML identity provider and an OIDC provider made in the test: fresh keys, signxml's XMLSigner, joserfc."""
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import Key, RSAKey
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.signer import XMLSigner

from connection_config.sso.saml_request import ServiceProvider

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SP = ServiceProvider(entity_id="https://portico.example.com/sso/saml/conn_1",
                     acs_url="https://portico.example.com/sso/saml/conn_1/acs")
IDP_ENTITY_ID = "https://idp.example.org/realms/acme"
REQUEST_ID = "id_4f1c2a"


@cache
def rsa_key(label: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per label for the whole run: generating keys is the slow part."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate_for(key: rsa.RSAPrivateKey, *, valid_from: datetime, valid_days: int = 365,
                    common_name: str = "idp.example.org") -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(valid_from)
        .not_valid_after(valid_from + timedelta(days=valid_days)).sign(key, hashes.SHA256())
    )


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


class Sha1Signer(XMLSigner):
    """signxml refuses to sign with SHA-1 (rightly); an old IdP still does, so the test IdP can."""

    def check_deprecated_methods(self) -> None:
        return None


@dataclass
class SamlIdp:
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa_key("idp"))
    certificate: x509.Certificate = field(default_factory=lambda: certificate_for(
        rsa_key("idp"), valid_from=NOW - timedelta(days=30)))
    entity_id: str = IDP_ENTITY_ID

    @property
    def pem(self) -> str:
        return pem(self.certificate)

    def response(
        self, *, name_id: str = "ada@example.com", attributes: Mapping[str, list[str]] | None = None,
        issued: datetime = NOW, lifetime: timedelta = timedelta(minutes=5), in_response_to: str | None = REQUEST_ID,
        audience: str = SP.entity_id, recipient: str = SP.acs_url, destination: str | None = SP.acs_url,
        issuer: str | None = None, assertion_id: str = "_a1", status: str = "urn:oasis:names:tc:SAML:2.0:status:Success",
        name_id_format: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    ) -> etree._Element:
        """An unsigned Response as Keycloak or Okta shape it (Issuer, Status, one Assertion)."""
        attributes = {"firstName": ["Ada"], "lastName": ["Lovelace"], "groups": ["admins", "staff"]} \
            if attributes is None else attributes
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        dest = f' Destination="{destination}"' if destination else ""
        stamp, ends = _instant(issued), _instant(issued + lifetime)
        statements = "".join(
            f'<saml:Attribute Name="{name}">'
            + "".join(f"<saml:AttributeValue>{value}</saml:AttributeValue>" for value in values)
            + "</saml:Attribute>"
            for name, values in attributes.items()
        )
        document = f"""<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_r1" Version="2.0"
 IssueInstant="{stamp}"{dest}{irt}><saml:Issuer>{issuer or self.entity_id}</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>
<saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{stamp}"><saml:Issuer>{issuer or self.entity_id}</saml:Issuer>
<saml:Subject><saml:NameID Format="{name_id_format}">{name_id}</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
<saml:SubjectConfirmationData{irt} NotOnOrAfter="{ends}" Recipient="{recipient}"/></saml:SubjectConfirmation>
</saml:Subject><saml:Conditions NotBefore="{stamp}" NotOnOrAfter="{ends}"><saml:AudienceRestriction>
<saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AuthnStatement AuthnInstant="{stamp}"><saml:AuthnContext><saml:AuthnContextClassRef>
urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
</saml:AuthnStatement><saml:AttributeStatement>{statements}</saml:AttributeStatement></saml:Assertion></samlp:Response>"""
        return etree.fromstring(document.encode())

    def sign(self, element: etree._Element, *, signature_algorithm: SignatureMethod = SignatureMethod.RSA_SHA256,
             digest_algorithm: DigestAlgorithm = DigestAlgorithm.SHA256, key: rsa.RSAPrivateKey | None = None,
             certificate: x509.Certificate | None = None, embed_certificate: bool = True) -> etree._Element:
        """An enveloped signature right after the element's Issuer (where SAML's schema puts it), exclusive c14n;
        returns the signed copy signxml makes."""
        placeholder = etree.Element(f"{{{DS}}}Signature", nsmap={"ds": DS}, Id="placeholder")
        element.find(f"{{{SAML}}}Issuer").addnext(placeholder)
        signer = Sha1Signer(signature_algorithm=signature_algorithm, digest_algorithm=digest_algorithm,
                            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
        signer.namespaces = {"ds": DS}
        cert = certificate or self.certificate
        signed = signer.sign(element, key=key or self.key, cert=[pem(cert)] if embed_certificate else None,
                             reference_uri=element.get("ID"), id_attribute="ID")
        element.remove(placeholder)
        return signed

    def signed_assertion_response(self, response: etree._Element | None = None, **signing: Any) -> etree._Element:
        response = self.response() if response is None else response
        assertion = response.find(f"{{{SAML}}}Assertion")
        response.replace(assertion, self.sign(assertion, **signing))
        return response

    def signed_response(self, response: etree._Element | None = None, **signing: Any) -> etree._Element:
        return self.sign(self.response() if response is None else response, **signing)


def encoded(element: etree._Element | bytes) -> str:
    data = element if isinstance(element, bytes) else etree.tostring(element)
    return base64.b64encode(data).decode()


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class OidcProvider:
    issuer: str = "https://idp.example.org/realms/acme"
    client_id: str = "portico-client"
    keys: list[RSAKey] = field(default_factory=lambda: [RSAKey.import_key(rsa_key("oidc-1"), {"kid": "k1"})])

    def jwks(self, keys: list[Key] | None = None) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False, use="sig", alg="RS256") for key in (keys or self.keys)]}

    def claims(self, *, nonce: str = "n-123", issued: datetime = NOW, **changes: Any) -> dict[str, Any]:
        base = {
            "iss": self.issuer, "sub": "f81d4fae-7dec", "aud": self.client_id, "azp": self.client_id,
            "exp": int((issued + timedelta(minutes=5)).timestamp()), "iat": int(issued.timestamp()),
            "nonce": nonce, "email": "Ada@Example.com", "email_verified": True, "given_name": "Ada",
            "family_name": "Lovelace", "groups": ["admins"],
        }
        base.update(changes)
        return {name: value for name, value in base.items() if value is not None}

    def id_token(self, claims: dict[str, Any] | None = None, *, key: Key | None = None,
                 header: dict[str, Any] | None = None) -> str:
        signing_key = key or self.keys[0]
        return jwt.encode(header or {"alg": "RS256", "kid": signing_key.kid}, claims or self.claims(), signing_key,
                          algorithms=[(header or {}).get("alg", "RS256")])


def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    return ".".join((part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)))
