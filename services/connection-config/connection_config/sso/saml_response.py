"""Verify a SAML Response posted to the ACS and turn its assertion into a profile (pure: time comes in).

Order: hardened parse, Status, exactly one Assertion, signatures (xmlsig), then every check and read on the
elements the signatures returned: issuer, destination and recipient, InResponseTo, audience, times, subject."""
import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from lxml import etree

from connection_config.model import AttributeMapping, Connection
from connection_config.sso.assertion import (
    assertion_attributes,
    check_bearer_confirmation,
    check_conditions,
    check_issue_instant,
    check_issuers,
    check_response_fields,
    malformed,
    subject_name_id,
)
from connection_config.sso.errors import SignInError
from connection_config.sso.profile import Profile, saml_profile
from connection_config.sso.saml_request import SAML_ASSERTION, SAML_PROTOCOL, ServiceProvider
from connection_config.sso.xmlsig import DS, PinnedCertificate, VerifiedElement, hardened_parser, verify_enveloped

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
MAX_RESPONSE_BYTES = 512 * 1024  # a response with a few hundred groups is ~100 KiB
DEFAULT_MAX_SKEW = timedelta(seconds=120)
# An assertion is delivered by the browser right after it is issued; older ones are refused even when the
# IdP set a long NotOnOrAfter, which also bounds how long an assertion ID must be remembered.
DEFAULT_MAX_AGE = timedelta(minutes=10)
_P = f"{{{SAML_PROTOCOL}}}"
_A = f"{{{SAML_ASSERTION}}}"


@dataclass(frozen=True)
class SamlTrust:
    """What one connection trusts, and whose it is: a response verified here signs in to this organization only."""

    connection_id: str
    organization_id: str
    idp_entity_id: str
    certificates: tuple[str, ...]  # PEM
    attribute_mapping: AttributeMapping = AttributeMapping()

    @classmethod
    def from_connection(cls, connection: Connection) -> "SamlTrust":
        settings = connection.saml
        if connection.type != "saml" or settings is None or not settings.idp_entity_id:
            raise ValueError(f"connection {connection.id} is not a configured SAML connection")
        return cls(connection.id, connection.organization_id, settings.idp_entity_id,
                   tuple(cert.pem for cert in settings.certificates), settings.attribute_mapping)


@dataclass(frozen=True)
class SamlSignIn:
    profile: Profile
    assertion_id: str
    remember_until: datetime  # record assertion_id until then: an older copy is refused by its times anyway
    certificate_fingerprint: str
    signature_algorithm: str
    digest_algorithm: str
    signed: Literal["assertion", "response", "response_and_assertion"]
    skew_seconds: float  # the assertion's IssueInstant minus our clock: positive when the IdP runs ahead


class SeenAssertions(Protocol):
    async def first_use(self, connection_id: str, assertion_id: str, until: datetime) -> bool:
        """Atomically record the ID (e.g. Redis SET NX with an expiry); False if it was already recorded."""


async def accept_once(sign_in: SamlSignIn, seen: SeenAssertions) -> None:
    """Each assertion signs in once: call before issuing a code or recording a successful test."""
    if not await seen.first_use(sign_in.profile.connection_id, sign_in.assertion_id, sign_in.remember_until):
        raise SignInError("assertion_replayed", actual=sign_in.assertion_id)


def parse_response(saml_response: str) -> etree._Element:
    compact = "".join(saml_response.split())
    if len(compact) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise malformed("The SAML response is larger than Portico accepts.", f"{len(compact)} base64 characters")
    try:
        raw = base64.b64decode(compact, validate=True)
        root = etree.fromstring(raw, hardened_parser())
    except (binascii.Error, ValueError):
        raise malformed("The SAMLResponse parameter is not base64.") from None
    except etree.XMLSyntaxError as error:
        raise malformed("The SAML response is not well-formed XML.", str(error)[:200]) from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or any(True for _ in root.iter(etree.Entity)):
        raise malformed("The SAML response declares a DTD or entities, which SAML never needs.")
    if root.tag != f"{_P}Response":
        raise malformed("This is not a SAML Response.", etree.QName(root).localname)
    if root.get("Version") != "2.0":
        raise malformed("Only SAML 2.0 responses are accepted.", root.get("Version") or "no Version")
    return root


def check_status(response: etree._Element) -> None:
    """Read before any signature: error responses are often unsigned, and they sign nobody in."""
    code = response.find(f"{_P}Status/{_P}StatusCode")
    if code is None or not code.get("Value"):
        raise malformed("The SAML response has no status.")
    if code.get("Value") == SUCCESS:
        return
    actual = code.get("Value", "")
    detail = code.find(f"{_P}StatusCode")
    if detail is not None and detail.get("Value"):
        actual += f" / {detail.get('Value')}"
    message = response.findtext(f"{_P}Status/{_P}StatusMessage")
    if message and message.strip():
        actual += f": {message.strip()[:200]}"
    raise SignInError("idp_error", expected=SUCCESS, actual=actual)


def only_assertion(response: etree._Element) -> etree._Element:
    """Exactly one Assertion in the whole document, directly in the Response: any other copy (in Extensions,
    in a ds:Object, in Advice) is how signature-wrapping attacks hide the signed one."""
    if any(True for _ in response.iter(f"{_A}EncryptedAssertion")):
        raise malformed("The assertion is encrypted; turn off assertion encryption for this connection.")
    assertions = list(response.iter(f"{_A}Assertion"))
    if len(assertions) != 1 or assertions[0].getparent() is not response:
        raise malformed("A SAML response must carry exactly one assertion, directly inside it.",
                         f"{len(assertions)} assertions")
    return assertions[0]


def _own_signature(element: etree._Element) -> etree._Element | None:
    signatures = element.findall(f"{{{DS}}}Signature")
    if len(signatures) > 1:
        raise malformed("An element carries more than one signature.")
    return signatures[0] if signatures else None


@dataclass(frozen=True)
class _Signed:
    response: etree._Element  # the verified Response if it was signed, else the parsed one (unsigned fields only)
    assertion: etree._Element  # always from a verified tree
    verified: VerifiedElement
    signed: Literal["assertion", "response", "response_and_assertion"]


def _pins(trust: SamlTrust) -> list[PinnedCertificate]:
    try:
        pins = [PinnedCertificate.from_pem(pem) for pem in trust.certificates]
    except ValueError:
        raise SignInError("certificate_mismatch", "A certificate configured for this connection cannot be read; "
                          "upload it again.") from None
    if not pins:
        raise SignInError("certificate_mismatch", expected="a configured certificate", actual="none configured")
    return pins


def verify_signatures(response: etree._Element, assertion: etree._Element, trust: SamlTrust, now: datetime) -> _Signed:
    """Every signature present on the Response and on the Assertion must verify; at least one must cover the
    assertion. The assertion used is the one inside a tree signxml returned."""
    response_signature, assertion_signature = _own_signature(response), _own_signature(assertion)
    if response_signature is None and assertion_signature is None:
        raise SignInError("unsigned_assertion", expected="a signed assertion or response", actual="no signature")
    pins = _pins(trust)
    signed_response = signed_assertion = None
    if response_signature is not None:
        signed_response = verify_enveloped(response, response_signature, pins, now=now)
    if assertion_signature is not None:
        signed_assertion = verify_enveloped(response, assertion_signature, pins, now=now)
    if signed_assertion is not None:
        verified_assertion = signed_assertion.element
    else:
        assert signed_response is not None
        inner = signed_response.element.findall(f"{_A}Assertion")
        if len(inner) != 1:
            raise malformed("The signed response must carry exactly one assertion.", f"{len(inner)} assertions")
        verified_assertion = inner[0]
    if signed_response is None:
        assert signed_assertion is not None
        return _Signed(response, verified_assertion, signed_assertion, "assertion")
    if signed_assertion is None:
        return _Signed(signed_response.element, verified_assertion, signed_response, "response")
    return _Signed(signed_response.element, verified_assertion, signed_assertion, "response_and_assertion")


def verify_saml_response(
    saml_response: str,
    *,
    trust: SamlTrust,
    sp: ServiceProvider,
    expected_in_response_to: str | None,
    now: datetime,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> SamlSignIn:
    """The profile of a SAMLResponse (the base64 form field) for `trust`'s connection, or a SignInError.
    The caller still has to `accept_once` the result before it signs anyone in."""
    response = parse_response(saml_response)
    check_status(response)
    signed = verify_signatures(response, only_assertion(response), trust, now)
    assertion = signed.assertion
    check_issuers(signed.response, assertion, trust.idp_entity_id)
    check_response_fields(signed.response, signed.signed != "assertion", sp, expected_in_response_to)
    confirmation_ends = check_bearer_confirmation(assertion, sp, expected_in_response_to, now, max_skew)
    conditions_end = check_conditions(assertion, sp, now, max_skew)
    issued = check_issue_instant(assertion, now, max_skew, max_age)
    assertion_id = assertion.get("ID")
    if not assertion_id:
        raise malformed("The assertion has no ID.")
    name_id, name_id_format = subject_name_id(assertion)
    profile = saml_profile(
        name_id=name_id, name_id_format=name_id_format, attributes=assertion_attributes(assertion),
        mapping=trust.attribute_mapping, connection_id=trust.connection_id, organization_id=trust.organization_id,
    )
    ends = min(moment for moment in (confirmation_ends, conditions_end, issued + max_age) if moment is not None)
    return SamlSignIn(
        profile=profile,
        assertion_id=assertion_id,
        remember_until=ends + max_skew,
        certificate_fingerprint=signed.verified.certificate_fingerprint,
        signature_algorithm=signed.verified.signature_algorithm,
        digest_algorithm=signed.verified.digest_algorithm,
        signed=signed.signed,
        skew_seconds=(issued - now).total_seconds(),
    )
