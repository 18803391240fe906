"""signxml held strictly: enveloped SAML signatures by a pinned certificate, SHA-256 or stronger, one reference to
the signature's own parent, and the verified return value as the only tree read afterwards."""
import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import cryptography.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature, SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from connection_config.sso.errors import SignInError

DS = "http://www.w3.org/2000/09/xmldsig#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SIGNATURE_METHODS = frozenset({
    SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512,
    SignatureMethod.SHA256_RSA_MGF1, SignatureMethod.SHA384_RSA_MGF1, SignatureMethod.SHA512_RSA_MGF1,
    SignatureMethod.ECDSA_SHA256, SignatureMethod.ECDSA_SHA384, SignatureMethod.ECDSA_SHA512,
})
DIGEST_ALGORITHMS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512})
# What a SAML signature needs (SAML core 5.4.4): the enveloped transform and a canonicalization; signxml also
# knows a base64 transform, which would let the digest cover something other than the element itself.
TRANSFORMS = frozenset({ENVELOPED, *(method.value for method in CanonicalizationMethod)})
MAX_SIGNATURE_ERROR_CHARS = 200


@dataclass(frozen=True)
class PinnedCertificate:
    """A signing certificate configured for the connection; trust comes from here, never from the response."""

    certificate: x509.Certificate
    fingerprint: str  # SHA-256, colon-separated upper-case hex, as the connection shows it

    @classmethod
    def from_pem(cls, pem: str) -> "PinnedCertificate":
        certificate = x509.load_pem_x509_certificate(pem.encode())
        return cls(certificate, fingerprint_of(certificate))


@dataclass(frozen=True)
class VerifiedElement:
    element: etree._Element  # parsed from the canonical bytes that were signed (comments excised)
    certificate_fingerprint: str
    signature_algorithm: str
    digest_algorithm: str


def fingerprint_of(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def hardened_parser() -> etree.XMLParser:
    """No entities, no DTD, no network, libxml2's default depth and size limits (huge_tree off)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _algorithm(element: etree._Element | None, what: str) -> str:
    algorithm = element.get("Algorithm") if element is not None else None
    if not algorithm:
        raise SignInError("malformed_response", f"The signature has no {what} algorithm.")
    return algorithm


def _check_algorithms(signed_info: etree._Element) -> tuple[str, str]:
    """SHA-1 and anything outside the allow-list are refused before signxml sees them, with the URI found."""
    signature_method = _algorithm(signed_info.find(f"{{{DS}}}SignatureMethod"), "signature")
    if signature_method not in {method.value for method in SIGNATURE_METHODS}:
        raise SignInError("weak_algorithm", expected="RSA or ECDSA with SHA-256, SHA-384 or SHA-512",
                          actual=signature_method)
    reference = signed_info.find(f"{{{DS}}}Reference")
    digest_method = _algorithm(reference.find(f"{{{DS}}}DigestMethod") if reference is not None else None, "digest")
    if digest_method not in {algorithm.value for algorithm in DIGEST_ALGORITHMS}:
        raise SignInError("weak_algorithm", expected="SHA-256, SHA-384 or SHA-512 digests", actual=digest_method)
    return signature_method, digest_method


def _check_reference(signed_info: etree._Element, expected_id: str) -> None:
    """One reference, to the element the signature sits in (SAML core 5.4.2), with SAML's transforms only."""
    references = signed_info.findall(f"{{{DS}}}Reference")
    if len(references) != 1:
        raise SignInError("signature_invalid", "A SAML signature must have exactly one reference.",
                          expected="1 reference", actual=f"{len(references)} references")
    uri = references[0].get("URI")
    if uri != f"#{expected_id}":
        raise SignInError("signature_invalid", "The signature covers another element than the one it sits in.",
                          expected=f"#{expected_id}", actual=uri if uri is not None else "no URI")
    for transform in references[0].findall(f"{{{DS}}}Transforms/{{{DS}}}Transform"):
        if transform.get("Algorithm") not in TRANSFORMS:
            raise SignInError("signature_invalid", "The signature uses a transform SAML does not allow.",
                              actual=transform.get("Algorithm") or "none")


def _embedded_fingerprints(signature: etree._Element) -> list[str]:
    fingerprints = []
    for element in signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"):
        try:
            der = base64.b64decode("".join((element.text or "").split()), validate=True)
            fingerprints.append(fingerprint_of(x509.load_der_x509_certificate(der)))
        except (ValueError, binascii.Error):
            raise SignInError("malformed_response", "The certificate inside the signature cannot be read.") from None
    return fingerprints


def _candidates(signature: etree._Element, pins: Sequence[PinnedCertificate], now: datetime) -> list[PinnedCertificate]:
    """The configured certificate the signature names, or every configured one when it names none; the
    certificate in the response only selects, it is never trusted."""
    embedded = _embedded_fingerprints(signature)
    configured = [pin.fingerprint for pin in pins]
    if embedded:
        named = [pin for pin in pins if pin.fingerprint in embedded]
        if not named:
            raise SignInError("certificate_mismatch", expected=configured, actual=embedded[0])
        pins = named
    current = [pin for pin in pins if pin.certificate.not_valid_before_utc <= now <= pin.certificate.not_valid_after_utc]
    if not current:
        pin = pins[0]
        raise SignInError(
            "certificate_expired", expected=f"a certificate valid at {now.isoformat()}",
            actual=(f"{pin.fingerprint} valid from {pin.certificate.not_valid_before_utc.isoformat()} "
                    f"to {pin.certificate.not_valid_after_utc.isoformat()}"),
        )
    return current


def _location(document: etree._Element, parent: etree._Element) -> str:
    """signxml's `location`: where the ds:Signature must sit, so it never picks up one placed elsewhere."""
    if parent is document:
        return "./"
    if parent.getparent() is document:
        return f"./{parent.tag}/"
    raise SignInError("malformed_response", "A signature sits deeper in the response than SAML places one.")


def _signxml_failure(error: Exception) -> SignInError:
    detail = str(error)[:MAX_SIGNATURE_ERROR_CHARS]
    if isinstance(error, InvalidDigest):
        return SignInError("signature_invalid", "The signed content was changed after the identity provider "
                           "signed it (digest mismatch).", actual=detail)
    if isinstance(error, InvalidCertificate):
        return SignInError("certificate_expired", actual=detail)
    if isinstance(error, InvalidSignature | cryptography.exceptions.InvalidSignature | InvalidInput):
        return SignInError("signature_invalid", actual=detail or type(error).__name__)
    return SignInError("malformed_response", "The signature cannot be read.", actual=detail)


def _verify_with(document: etree._Element, location: str, pin: PinnedCertificate, now: datetime) -> etree._Element:
    config = SignatureConfiguration(
        location=location, expect_references=1, signature_methods=SIGNATURE_METHODS,
        digest_algorithms=DIGEST_ALGORITHMS, verification_time=now,
    )
    try:
        result = XMLVerifier().verify(document, x509_cert=pin.certificate, parser=hardened_parser(),
                                      id_attribute="ID", expect_config=config)
    except (SignXMLException, cryptography.exceptions.InvalidSignature, etree.LxmlError, ValueError) as error:
        raise _signxml_failure(error) from None
    if isinstance(result, list) or result.signed_xml is None:
        raise SignInError("signature_invalid", "The signature does not cover an XML element.")
    return result.signed_xml


def verify_enveloped(
    document: etree._Element, signature: etree._Element, pins: Sequence[PinnedCertificate], *, now: datetime,
) -> VerifiedElement:
    """Verify `signature` (a ds:Signature child of the response or of its assertion) and return the element it
    signs, as signxml returned it. Every later read uses that element, never `document`."""
    parent = signature.getparent()
    expected_id = parent.get("ID") if parent is not None else None
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    if parent is None or not expected_id or signed_info is None:
        raise SignInError("malformed_response", "The signature or the element it signs is incomplete.")
    signature_method, digest_method = _check_algorithms(signed_info)
    _check_reference(signed_info, expected_id)
    location = _location(document, parent)
    failure: SignInError | None = None
    for pin in _candidates(signature, pins, now):
        try:
            signed = _verify_with(document, location, pin, now)
        except SignInError as error:
            failure = error
            continue
        if signed.tag != parent.tag or signed.get("ID") != expected_id:
            raise SignInError("signature_invalid", "The signature covers another element than the one it sits in.",
                              expected=f"{parent.tag} {expected_id}", actual=f"{signed.tag} {signed.get('ID')}")
        return VerifiedElement(signed, pin.fingerprint, signature_method, digest_method)
    assert failure is not None  # _candidates returns at least one certificate
    raise failure
