"""What a verified assertion says, and the checks on it: issuer, addressing, InResponseTo, audience, times with a
bounded skew, subject and attributes. Every element passed in comes from a tree signxml returned."""
import re
from datetime import UTC, datetime, timedelta

from lxml import etree

from connection_config.sso.errors import SignInError
from connection_config.sso.saml_request import SAML_ASSERTION, ServiceProvider

BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_A = f"{{{SAML_ASSERTION}}}"
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def malformed(message: str, actual: str | None = None) -> SignInError:
    return SignInError("malformed_response", message, actual=actual)


def parse_instant(value: str | None, what: str) -> datetime:
    """xs:dateTime as IdPs write it: Z, an offset or none (UTC), any number of fractional digits (AD FS has 7)."""
    match = _DATETIME.match((value or "").strip())
    if match is None:
        raise malformed(f"The {what} time is missing or not an xs:dateTime.", value or "missing")
    whole, fraction, zone = match.groups()
    microseconds = (fraction or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if zone in (None, "Z") else zone
    try:
        return datetime.fromisoformat(f"{whole}.{microseconds}{zone}").astimezone(UTC)
    except ValueError:
        raise malformed(f"The {what} time is not a valid date.", value) from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_window(
    where: str, not_before: datetime | None, not_on_or_after: datetime | None, now: datetime, skew: timedelta,
) -> None:
    """`now` within [NotBefore - skew, NotOnOrAfter + skew); the failure says by how much it missed."""
    allowed = int(skew.total_seconds())
    if not_before is not None and now < not_before - skew:
        early = (not_before - now).total_seconds()
        raise SignInError(
            "assertion_not_yet_valid", expected=f"on or after {_iso(not_before)} ({where}, {allowed} s skew allowed)",
            actual=f"{_iso(now)}: {early:.0f} s early")
    if not_on_or_after is not None and now >= not_on_or_after + skew:
        late = (now - not_on_or_after).total_seconds()
        raise SignInError(
            "assertion_expired", expected=f"before {_iso(not_on_or_after)} ({where}, {allowed} s skew allowed)",
            actual=f"{_iso(now)}: {late:.0f} s late")


def _optional_instant(element: etree._Element, attribute: str, what: str) -> datetime | None:
    value = element.get(attribute)
    return parse_instant(value, what) if value is not None else None


def check_issuers(response: etree._Element, assertion: etree._Element, idp_entity_id: str) -> None:
    issuer = (assertion.findtext(f"{_A}Issuer") or "").strip()
    if issuer != idp_entity_id:
        raise SignInError("issuer_mismatch", expected=idp_entity_id, actual=issuer or "none")
    response_issuer = response.findtext(f"{_A}Issuer")  # optional on the Response (SAML core 3.2.2)
    if response_issuer is not None and response_issuer.strip() != idp_entity_id:
        raise SignInError("issuer_mismatch", expected=idp_entity_id, actual=response_issuer.strip())


def check_in_response_to(found: str | None, expected: str | None, where: str) -> None:
    """SP-initiated: the ID of the AuthnRequest we sent. Without one pending, nothing may claim to answer one."""
    if found == expected:
        return
    if expected is None:
        raise SignInError("in_response_to_mismatch", expected="none (no sign-in request pending)",
                          actual=f"{found} ({where})")
    raise SignInError("in_response_to_mismatch", expected=expected,
                      actual=f"{found} ({where})" if found is not None else "none (an IdP-initiated response)")


def check_response_fields(
    response: etree._Element, response_signed: bool, sp: ServiceProvider, expected_in_response_to: str | None,
) -> None:
    """Destination and InResponseTo on the Response (read from the verified Response when it is signed)."""
    destination = response.get("Destination")
    if destination is not None and destination != sp.acs_url:
        raise SignInError("destination_mismatch", expected=sp.acs_url, actual=f"{destination} (Response Destination)")
    if response_signed and destination is None:
        # SAML core 3.4.5.2: a signed response sent through a browser must say where it is going.
        raise SignInError("destination_mismatch", expected=sp.acs_url, actual="none (Response Destination)")
    in_response_to = response.get("InResponseTo")
    if in_response_to is not None:
        check_in_response_to(in_response_to, expected_in_response_to, "Response")


def check_bearer_confirmation(
    assertion: etree._Element, sp: ServiceProvider, expected_in_response_to: str | None, now: datetime, skew: timedelta,
) -> datetime:
    """The bearer SubjectConfirmationData: Recipient, InResponseTo and its window; returns its NotOnOrAfter."""
    confirmations = [
        element for element in assertion.findall(f"{_A}Subject/{_A}SubjectConfirmation")
        if element.get("Method") == BEARER
    ]
    data = confirmations[0].find(f"{_A}SubjectConfirmationData") if confirmations else None
    if data is None:
        raise malformed("The assertion has no bearer SubjectConfirmationData.")
    recipient = data.get("Recipient")
    if recipient != sp.acs_url:
        raise SignInError("destination_mismatch", expected=sp.acs_url,
                          actual=f"{recipient} (SubjectConfirmationData Recipient)" if recipient else "none (Recipient)")
    check_in_response_to(data.get("InResponseTo"), expected_in_response_to, "SubjectConfirmationData")
    not_on_or_after = _optional_instant(data, "NotOnOrAfter", "SubjectConfirmationData NotOnOrAfter")
    if not_on_or_after is None:
        raise malformed("The bearer confirmation has no NotOnOrAfter (SAML profiles 4.1.4.2).")
    check_window("SubjectConfirmationData",
                 _optional_instant(data, "NotBefore", "SubjectConfirmationData NotBefore"), not_on_or_after, now, skew)
    return not_on_or_after


def check_conditions(assertion: etree._Element, sp: ServiceProvider, now: datetime, skew: timedelta) -> datetime | None:
    """Every AudienceRestriction must name us; the Conditions window; returns its NotOnOrAfter if any."""
    conditions = assertion.find(f"{_A}Conditions")
    restrictions = conditions.findall(f"{_A}AudienceRestriction") if conditions is not None else []
    if not restrictions:
        raise SignInError("audience_mismatch", expected=sp.entity_id, actual="none (no AudienceRestriction)")
    for restriction in restrictions:
        audiences = [(element.text or "").strip() for element in restriction.findall(f"{_A}Audience")]
        if sp.entity_id not in audiences:
            raise SignInError("audience_mismatch", expected=sp.entity_id, actual=", ".join(audiences) or "none")
    assert conditions is not None
    not_on_or_after = _optional_instant(conditions, "NotOnOrAfter", "Conditions NotOnOrAfter")
    check_window("Conditions", _optional_instant(conditions, "NotBefore", "Conditions NotBefore"),
                 not_on_or_after, now, skew)
    return not_on_or_after


def check_issue_instant(assertion: etree._Element, now: datetime, skew: timedelta, max_age: timedelta) -> datetime:
    issued = parse_instant(assertion.get("IssueInstant"), "assertion IssueInstant")
    check_window("assertion IssueInstant, at most "
                 f"{int(max_age.total_seconds())} s old", issued, issued + max_age, now, skew)
    return issued


def _text(element: etree._Element) -> str:
    # itertext skips comments: "a@evil.com<!---->.example.com" reads whole, as it was signed
    return "".join(text for text in element.itertext() if isinstance(text, str)).strip()


def assertion_attributes(assertion: etree._Element) -> dict[str, list[str]]:
    attributes: dict[str, list[str]] = {}
    for attribute in assertion.iterfind(f"{_A}AttributeStatement/{_A}Attribute"):
        name = attribute.get("Name")
        if not name:
            continue
        values = attributes.setdefault(name, [])
        for value in attribute.findall(f"{_A}AttributeValue"):
            if value.get(XSI_NIL) not in ("true", "1"):
                values.append(_text(value))
    return attributes


def subject_name_id(assertion: etree._Element) -> tuple[str, str | None]:
    if assertion.find(f"{_A}Subject/{_A}EncryptedID") is not None:
        raise malformed("The NameID is encrypted; turn off NameID encryption for this connection.")
    name_id = assertion.find(f"{_A}Subject/{_A}NameID")
    value = _text(name_id) if name_id is not None else ""
    if name_id is None or not value:
        raise malformed("The assertion has no NameID for the user.")
    return value, name_id.get("Format")
