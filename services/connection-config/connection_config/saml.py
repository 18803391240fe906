"""SAML for Portico as a service provider: IdP metadata and certificates in (hardened), SP metadata out."""
import base64
import binascii
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring as parse_xml_safely

from connection_config.model import Certificate, ConfigWarning, ConnectionProblem
from connection_config.urls import check_url

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
BINDINGS = {
    "HTTP-Redirect": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
    "HTTP-POST": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
}
MAX_METADATA_BYTES = 1024 * 1024  # one IdP's metadata is a few KiB; federation aggregates are not accepted
MAX_CERTIFICATES = 10
MAX_CERTIFICATE_CHARS = 16 * 1024
MAX_ENTITY_ID_LENGTH = 1024
EXPIRY_WARNING = timedelta(days=30)


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    sso_binding: str
    certificates: tuple[Certificate, ...]
    name_id_formats: tuple[str, ...]
    warnings: tuple[ConfigWarning, ...]


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def parse_certificate(text: str, field: str, *, label: str = "This certificate") -> Certificate:
    """A PEM (or bare base64 DER) X.509 certificate; anything else is refused with a reason."""
    text = text.strip()
    if "PRIVATE KEY" in text:
        raise ConnectionProblem(
            "private_key_not_accepted",
            f"{label} is a private key. Paste the identity provider's public signing certificate "
            "(-----BEGIN CERTIFICATE-----) and keep the private key secret.",
            field,
        )
    if not text:
        raise ConnectionProblem("certificate_empty", f"{label} is empty; paste the PEM certificate.", field)
    if len(text) > MAX_CERTIFICATE_CHARS:
        raise ConnectionProblem("certificate_too_large", f"{label} is larger than a certificate can be.", field)
    try:
        if "-----BEGIN" in text:
            if "-----BEGIN CERTIFICATE-----" not in text:
                raise ValueError("not a certificate PEM block")
            cert = x509.load_pem_x509_certificate(text.encode())
        else:
            cert = x509.load_der_x509_certificate(base64.b64decode(re.sub(r"\s+", "", text), validate=True))
        public_key = cert.public_key()
        subject = cert.subject.rfc4514_string()
    except (ValueError, TypeError, binascii.Error, x509.UnsupportedGeneralNameType, x509.InvalidVersion,
            UnsupportedAlgorithm):
        raise ConnectionProblem(
            "certificate_invalid",
            f"{label} is not a valid X.509 certificate. Copy the whole PEM block, from "
            "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----, from your identity provider.",
            field,
        ) from None
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < 2048:
        raise ConnectionProblem(
            "certificate_weak_key",
            f"{label} has a {public_key.key_size}-bit RSA key; identity providers must sign with at least 2048 bits.",
            field,
        )
    return Certificate(
        pem=cert.public_bytes(Encoding.PEM).decode(),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        subject=subject,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def certificate_warnings(certificates: tuple[Certificate, ...], now: datetime) -> list[ConfigWarning]:
    """Time-dependent findings, computed at each read so they appear when they become true."""
    warnings = []
    for index, cert in enumerate(certificates):
        field = f"saml.certificates.{index}"
        if cert.not_after <= now:
            warnings.append(ConfigWarning(
                "certificate_expired", f"Certificate {cert.fingerprint_sha256[:11]}… expired on "
                f"{_day(cert.not_after)}; upload the identity provider's new certificate.", field))
        elif cert.not_after - now <= EXPIRY_WARNING:
            warnings.append(ConfigWarning(
                "certificate_expiring", f"Certificate {cert.fingerprint_sha256[:11]}… expires on "
                f"{_day(cert.not_after)}; add the identity provider's next certificate before then.", field))
        elif cert.not_before > now:
            warnings.append(ConfigWarning(
                "certificate_not_yet_valid", f"Certificate {cert.fingerprint_sha256[:11]}… is valid only from "
                f"{_day(cert.not_before)}.", field))
    return warnings


def parse_entered_certificates(pems: list[str], now: datetime) -> tuple[Certificate, ...]:
    """Certificates typed field by field: each must parse and be unexpired; duplicates are merged."""
    if not pems:
        raise ConnectionProblem(
            "certificate_required", "Add the identity provider's signing certificate (PEM).", "saml.certificates"
        )
    if len(pems) > MAX_CERTIFICATES:
        raise ConnectionProblem(
            "too_many_certificates", f"At most {MAX_CERTIFICATES} signing certificates are kept per connection.",
            "saml.certificates",
        )
    certificates: dict[str, Certificate] = {}
    for index, pem in enumerate(pems):
        field = f"saml.certificates.{index}"
        cert = parse_certificate(pem, field, label=f"Certificate {index + 1}")
        if cert.not_after <= now:
            raise ConnectionProblem(
                "certificate_expired",
                f"Certificate {index + 1} expired on {_day(cert.not_after)}; remove it and add the identity "
                "provider's current signing certificate.",
                field,
            )
        certificates.setdefault(cert.fingerprint_sha256, cert)
    return tuple(certificates.values())


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse_document(document: bytes, field: str, source: str) -> ET.Element:
    if len(document) > MAX_METADATA_BYTES:
        raise ConnectionProblem(
            "metadata_too_large",
            f"{source} is larger than {MAX_METADATA_BYTES // 1024} KiB; export the metadata of this one "
            "application, not a whole federation.",
            field,
        )
    head = document[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise ConnectionProblem("metadata_empty", f"{source} is empty.", field)
    if head.startswith((b"<!doctype html", b"<html")):
        raise ConnectionProblem(
            "metadata_is_html",
            f"{source} is a web page, not SAML metadata. Use the identity provider's metadata XML "
            "(often labelled 'IdP metadata' or 'Federation Metadata XML').",
            field,
        )
    try:
        return parse_xml_safely(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise ConnectionProblem(
            "metadata_dtd_forbidden",
            f"{source} contains a DOCTYPE declaration. Portico refuses DTDs and entities in metadata because "
            "they can attack the parser; export the metadata again without one.",
            field,
        ) from None
    except (EntitiesForbidden, ExternalReferenceForbidden):
        raise ConnectionProblem(
            "metadata_entities_forbidden",
            f"{source} declares XML entities or external references, which Portico refuses.",
            field,
        ) from None
    except ET.ParseError as error:
        raise ConnectionProblem(
            "metadata_not_xml", f"{source} is not well-formed XML ({error}). Upload the metadata file unchanged.",
            field,
        ) from None
    except (LookupError, ValueError):  # expat's answer to a declared encoding it cannot read
        raise ConnectionProblem(
            "metadata_encoding_unsupported",
            f"{source} declares a character encoding Portico cannot read; export it again as UTF-8.",
            field,
        ) from None


def _identity_provider(root: ET.Element, field: str, source: str) -> tuple[ET.Element, ET.Element]:
    if root.tag not in (f"{{{MD}}}EntityDescriptor", f"{{{MD}}}EntitiesDescriptor"):
        raise ConnectionProblem(
            "metadata_wrong_root",
            f"{source} starts with <{_local(root.tag)}>, not a SAML 2.0 <EntityDescriptor> "
            f"(namespace {MD}). Upload the identity provider's SAML metadata.",
            field,
        )
    entities = [root] if _local(root.tag) == "EntityDescriptor" else list(root.iter(f"{{{MD}}}EntityDescriptor"))
    found = []
    for entity in entities:
        for idp in entity.findall(f"{{{MD}}}IDPSSODescriptor"):
            if SAML2_PROTOCOL in (idp.get("protocolSupportEnumeration") or "").split():
                found.append((entity, idp))
                break
    if not found:
        if any(entity.find(f"{{{MD}}}SPSSODescriptor") is not None for entity in entities):
            message = (f"{source} describes a service provider, not an identity provider; upload the metadata "
                       "your identity provider publishes (not Portico's own).")
        else:
            message = f"{source} has no SAML 2.0 identity provider (<IDPSSODescriptor>)."
        raise ConnectionProblem("metadata_no_identity_provider", message, field)
    if len(found) > 1:
        raise ConnectionProblem(
            "metadata_several_identity_providers",
            f"{source} describes {len(found)} identity providers; upload the metadata of just the one to use.",
            field,
        )
    return found[0]


def parse_idp_metadata(document: bytes, *, now: datetime, field: str, source: str = "The metadata") -> IdpMetadata:
    """The IdP's entity id, SSO endpoint and signing certificates from a metadata document.

    The parser refuses DTDs, entities and external references and never touches the network.
    """
    root = _parse_document(document, field, source)
    entity, idp = _identity_provider(root, field, source)
    warnings: list[ConfigWarning] = []

    entity_id = (entity.get("entityID") or "").strip()
    if not entity_id or len(entity_id) > MAX_ENTITY_ID_LENGTH:
        raise ConnectionProblem("metadata_no_entity_id", f"{source} has no usable entityID attribute.", field)

    endpoints = {el.get("Binding"): (el.get("Location") or "").strip()
                 for el in idp.findall(f"{{{MD}}}SingleSignOnService")}
    binding = next((name for name, urn in BINDINGS.items() if endpoints.get(urn)), None)
    if binding is None:
        raise ConnectionProblem(
            "metadata_no_sso_endpoint",
            f"{source} has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding.",
            field,
        )
    sso_url = check_url(endpoints[BINDINGS[binding]], field, what="The SingleSignOnService location in the metadata")

    certificates: dict[str, Certificate] = {}
    for descriptor in idp.findall(f"{{{MD}}}KeyDescriptor"):
        if descriptor.get("use") not in (None, "signing"):
            continue
        for element in descriptor.iter(f"{{{DS}}}X509Certificate"):
            cert = parse_certificate(element.text or "", field,
                                     label=f"Signing certificate {len(certificates) + 1} in the metadata")
            certificates.setdefault(cert.fingerprint_sha256, cert)
    if not certificates:
        raise ConnectionProblem(
            "metadata_no_signing_certificate",
            f"{source} has no signing certificate (<KeyDescriptor use=\"signing\"> with an X509Certificate); "
            "Portico cannot verify sign-ins without one.",
            field,
        )
    current = [cert for cert in certificates.values() if cert.not_after > now]
    if not current:
        latest = max(cert.not_after for cert in certificates.values())
        raise ConnectionProblem(
            "certificate_expired",
            f"Every signing certificate in {source[0].lower()}{source[1:]} expired (the latest on "
            f"{_day(latest)}); download fresh metadata after your identity provider rotated its certificate.",
            field,
        )
    if len(current) < len(certificates):
        warnings.append(ConfigWarning(
            "expired_certificate_skipped",
            f"{len(certificates) - len(current)} expired certificate(s) in the metadata were left out.", field))
    if len(current) > MAX_CERTIFICATES:
        raise ConnectionProblem(
            "too_many_certificates", f"{source} lists more than {MAX_CERTIFICATES} signing certificates.", field
        )
    if (idp.get("WantAuthnRequestsSigned") or "").strip().lower() in ("true", "1"):
        warnings.append(ConfigWarning(
            "signed_requests_unsupported",
            "The identity provider asks for signed authentication requests; Portico sends them unsigned, so "
            "turn off 'require signed requests' for this application.", field))
    valid_until = entity.get("validUntil") or root.get("validUntil")
    if valid_until:
        try:
            expiry = datetime.fromisoformat(valid_until.strip().replace("Z", "+00:00"))
            if expiry.tzinfo is not None and expiry <= now:
                warnings.append(ConfigWarning(
                    "metadata_expired", f"The metadata says it was valid only until {_day(expiry)}.", field))
        except ValueError:
            pass  # an unreadable validUntil changes nothing we rely on
    name_id_formats = tuple((el.text or "").strip() for el in idp.findall(f"{{{MD}}}NameIDFormat") if el.text)
    return IdpMetadata(entity_id, sso_url, binding, tuple(current), name_id_formats, tuple(warnings))


_DECLARED_ENCODING = re.compile(r"""^(\ufeff?\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")


def pasted_metadata(text: str) -> bytes:
    """Metadata pasted as text is already decoded: drop a declared encoding that no longer applies."""
    try:
        return _DECLARED_ENCODING.sub(r"\1", text, count=1).encode()
    except UnicodeEncodeError:
        raise ConnectionProblem(
            "metadata_not_xml", "The metadata XML contains characters that are not valid text.", "saml.metadata_xml"
        ) from None


def service_provider_values(public_url: str, connection_id: str) -> dict[str, str]:
    base = f"{public_url.rstrip('/')}/sso/saml/{connection_id}"
    return {"entity_id": base, "acs_url": f"{base}/acs", "metadata_url": f"{base}/metadata"}


def render_sp_metadata(public_url: str, connection_id: str, name_id_format: str) -> bytes:
    """Portico's SP metadata for one connection, for the admin to hand to their identity provider."""
    values = service_provider_values(public_url, connection_id)
    ET.register_namespace("md", MD)
    root = ET.Element(f"{{{MD}}}EntityDescriptor", {"entityID": values["entity_id"]})
    sp = ET.SubElement(root, f"{{{MD}}}SPSSODescriptor", {
        "AuthnRequestsSigned": "false",
        "WantAssertionsSigned": "true",
        "protocolSupportEnumeration": SAML2_PROTOCOL,
    })
    ET.SubElement(sp, f"{{{MD}}}NameIDFormat").text = name_id_format
    ET.SubElement(sp, f"{{{MD}}}AssertionConsumerService", {
        "Binding": BINDINGS["HTTP-POST"], "Location": values["acs_url"], "index": "0", "isDefault": "true",
    })
    metadata: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return metadata
