"""SAML responses from a test IdP: what a good one yields, and the exact code, expected and actual of each refusal."""
from datetime import datetime, timedelta

import pytest
from lxml import etree

from connection_config.sso.assertion import parse_instant
from connection_config.sso.errors import SignInError
from connection_config.sso.saml_response import SamlSignIn, SamlTrust, accept_once, verify_saml_response
from tests.unit.connection_config.sso.idp import (
    IDP_ENTITY_ID,
    NOW,
    REQUEST_ID,
    SAML,
    SAMLP,
    SP,
    SamlIdp,
    certificate_for,
    encoded,
    fingerprint,
    pem,
    rsa_key,
)

IDP = SamlIdp()
TRUST = SamlTrust("conn_1", "org_1", IDP_ENTITY_ID, (IDP.pem,))


def verify(response: etree._Element | str, *, trust: SamlTrust = TRUST, expected: str | None = REQUEST_ID,
           now: datetime = NOW) -> SamlSignIn:
    value = response if isinstance(response, str) else encoded(response)
    return verify_saml_response(value, trust=trust, sp=SP, expected_in_response_to=expected, now=now,
                                max_skew=timedelta(seconds=120))


def refused(response: etree._Element | str, **options) -> SignInError:
    with pytest.raises(SignInError) as caught:
        verify(response, **options)
    return caught.value


def test_signed_assertion_yields_the_profile_and_what_was_verified():
    sign_in = verify(IDP.signed_assertion_response(IDP.response(name_id="Ada@Example.com")))

    assert sign_in.profile.as_dict() == {
        "id": sign_in.profile.id,
        "idp_id": "Ada@Example.com",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "groups": ["admins", "staff"],
        "raw_attributes": {"firstName": ["Ada"], "lastName": ["Lovelace"], "groups": ["admins", "staff"]},
        "connection_id": "conn_1",
        "connection_type": "saml",
        "organization_id": "org_1",
    }
    assert sign_in.profile.id.startswith("prof_")
    assert sign_in.assertion_id == "_a1"
    assert sign_in.signed == "assertion"
    assert sign_in.certificate_fingerprint == fingerprint(IDP.certificate)
    assert sign_in.signature_algorithm == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert sign_in.digest_algorithm == "http://www.w3.org/2001/04/xmlenc#sha256"
    assert sign_in.skew_seconds == 0
    # The earliest end (NotOnOrAfter, 5 minutes) plus the allowed skew: after that the times refuse a copy.
    assert sign_in.remember_until == NOW + timedelta(minutes=5, seconds=120)


def test_profile_id_is_stable_per_user_and_connection():
    first = verify(IDP.signed_assertion_response(IDP.response(assertion_id="_x1"))).profile
    second = verify(IDP.signed_assertion_response(IDP.response(assertion_id="_x2"))).profile
    other = verify(IDP.signed_assertion_response(IDP.response(name_id="grace@example.com"))).profile
    assert first.id == second.id != other.id


def test_signed_response_with_unsigned_assertion_is_accepted():
    sign_in = verify(IDP.signed_response())
    assert sign_in.signed == "response"
    assert sign_in.profile.email == "ada@example.com"


def test_response_and_assertion_both_signed_are_both_verified():
    sign_in = verify(IDP.signed_response(IDP.signed_assertion_response()))
    assert sign_in.signed == "response_and_assertion"


def test_second_configured_certificate_verifies_during_rotation():
    old = certificate_for(rsa_key("old"), valid_from=NOW - timedelta(days=300))
    trust = SamlTrust("conn_1", "org_1", IDP_ENTITY_ID, (pem(old), IDP.pem))
    assert verify(IDP.signed_assertion_response(), trust=trust).certificate_fingerprint == fingerprint(IDP.certificate)


def test_signature_without_embedded_certificate_is_tried_with_each_configured_one():
    old = certificate_for(rsa_key("old"), valid_from=NOW - timedelta(days=300))
    trust = SamlTrust("conn_1", "org_1", IDP_ENTITY_ID, (pem(old), IDP.pem))
    sign_in = verify(IDP.signed_assertion_response(embed_certificate=False), trust=trust)
    assert sign_in.certificate_fingerprint == fingerprint(IDP.certificate)


def test_attribute_names_of_entra_id_map_to_the_profile():
    claims = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
    response = IDP.response(name_id="a1b2c3", name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                            attributes={f"{claims}/emailaddress": ["Grace@Contoso.com"], f"{claims}/givenname": ["Grace"],
                                        f"{claims}/surname": ["Hopper"],
                                        "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups": ["g1", "g2"]})
    profile = verify(IDP.signed_assertion_response(response)).profile
    assert (profile.idp_id, profile.email, profile.first_name, profile.last_name, profile.groups) == (
        "a1b2c3", "grace@contoso.com", "Grace", "Hopper", ("g1", "g2"))


def test_idp_error_status_is_reported_with_its_code():
    response = IDP.response(status="urn:oasis:names:tc:SAML:2.0:status:Responder")
    status = response.find(f"{{{SAMLP}}}Status")
    etree.SubElement(status, f"{{{SAMLP}}}StatusMessage").text = "User is disabled"
    error = refused(response)
    assert (error.code, error.fix_in) == ("idp_error", "identity_provider")
    assert error.actual == "urn:oasis:names:tc:SAML:2.0:status:Responder: User is disabled"


def test_unsigned_response_is_refused():
    error = refused(IDP.response())
    assert (error.code, error.actual) == ("unsigned_assertion", "no signature")


@pytest.mark.parametrize("value", ["not base64!", encoded(b"<samlp:Response"), encoded(b"<html/>")])
def test_garbage_is_a_malformed_response(value):
    assert refused(value).code == "malformed_response"


def test_doctype_and_entities_are_refused_before_anything_else():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Version="2.0">&b;</samlp:Response>')
    error = refused(encoded(bomb))
    assert error.code == "malformed_response"
    assert "DTD" in error.message


def test_external_entity_is_never_fetched():
    xxe = (b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Version="2.0">&x;</samlp:Response>')
    assert refused(encoded(xxe)).code == "malformed_response"


def test_oversized_response_is_refused_unparsed():
    error = refused("A" * (1024 * 1024))
    assert (error.code, error.actual) == ("malformed_response", "1048576 base64 characters")


def test_encrypted_assertion_is_refused_with_the_fix():
    response = IDP.response()
    assertion = response.find(f"{{{SAML}}}Assertion")
    response.replace(assertion, etree.Element(f"{{{SAML}}}EncryptedAssertion"))
    error = refused(response)
    assert error.code == "malformed_response"
    assert "encryption" in error.message


def test_certificate_not_configured_is_a_mismatch_with_both_fingerprints():
    stranger = certificate_for(rsa_key("stranger"), valid_from=NOW - timedelta(days=1))
    response = IDP.signed_assertion_response(key=rsa_key("stranger"), certificate=stranger)
    error = refused(response)
    assert (error.code, error.fix_in) == ("certificate_mismatch", "portico")
    assert error.expected == [fingerprint(IDP.certificate)]
    assert error.actual == fingerprint(stranger)


def test_configured_certificate_named_but_signed_by_another_key_is_an_invalid_signature():
    response = IDP.signed_assertion_response(key=rsa_key("stranger"), certificate=IDP.certificate)
    assert refused(response).code == "signature_invalid"


def test_unnamed_signature_by_an_unknown_key_is_an_invalid_signature():
    response = IDP.signed_assertion_response(key=rsa_key("stranger"), embed_certificate=False)
    assert refused(response).code == "signature_invalid"


def test_expired_configured_certificate_is_refused():
    expired = certificate_for(rsa_key("idp"), valid_from=NOW - timedelta(days=400), valid_days=365)
    trust = SamlTrust("conn_1", "org_1", IDP_ENTITY_ID, (pem(expired),))
    error = refused(IDP.signed_assertion_response(certificate=expired), trust=trust)
    assert error.code == "certificate_expired"
    assert error.actual.startswith(fingerprint(expired))


def test_wrong_issuer():
    error = refused(IDP.signed_assertion_response(IDP.response(issuer="https://evil.example.net")))
    assert (error.code, error.fix_in, error.expected, error.actual) == (
        "issuer_mismatch", "portico", IDP_ENTITY_ID, "https://evil.example.net")


def test_wrong_audience():
    error = refused(IDP.signed_assertion_response(IDP.response(audience="https://other-app.example.com")))
    assert (error.code, error.fix_in, error.expected, error.actual) == (
        "audience_mismatch", "identity_provider", SP.entity_id, "https://other-app.example.com")


def test_a_response_for_another_connection_is_refused_by_its_audience():
    other = SP.entity_id.replace("conn_1", "conn_2")
    assert refused(IDP.signed_assertion_response(IDP.response(audience=other))).code == "audience_mismatch"


def test_wrong_recipient():
    error = refused(IDP.signed_assertion_response(IDP.response(recipient="https://evil.example.net/acs",
                                                               destination=None)))
    assert (error.code, error.expected) == ("destination_mismatch", SP.acs_url)
    assert error.actual == "https://evil.example.net/acs (SubjectConfirmationData Recipient)"


def test_wrong_response_destination():
    error = refused(IDP.signed_response(IDP.response(destination="https://evil.example.net/acs")))
    assert (error.code, error.actual) == ("destination_mismatch", "https://evil.example.net/acs (Response Destination)")


def test_signed_response_must_name_its_destination():
    error = refused(IDP.signed_response(IDP.response(destination=None)))
    assert (error.code, error.actual) == ("destination_mismatch", "none (Response Destination)")


def test_in_response_to_another_request():
    error = refused(IDP.signed_assertion_response(IDP.response(in_response_to="id_other")))
    assert (error.code, error.expected, error.actual) == ("in_response_to_mismatch", REQUEST_ID, "id_other (Response)")


def test_idp_initiated_response_is_refused_when_a_request_is_pending():
    error = refused(IDP.signed_assertion_response(IDP.response(in_response_to=None)))
    assert (error.code, error.actual) == ("in_response_to_mismatch", "none (an IdP-initiated response)")


def test_idp_initiated_response_is_accepted_when_none_is_pending():
    assert verify(IDP.signed_assertion_response(IDP.response(in_response_to=None)), expected=None).profile


def test_answer_to_a_request_is_refused_when_none_is_pending():
    error = refused(IDP.signed_assertion_response(), expected=None)
    assert (error.code, error.expected) == ("in_response_to_mismatch", "none (no sign-in request pending)")


def test_email_missing():
    response = IDP.response(name_id="a1b2c3", name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                            attributes={"department": ["R&amp;D"]})
    error = refused(IDP.signed_assertion_response(response))
    assert (error.code, error.fix_in) == ("email_missing", "identity_provider")
    assert error.actual == "none (attributes: department)"


def test_email_attribute_that_is_not_an_address_is_missing():
    response = IDP.response(name_id="a1b2c3", name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                            attributes={"email": ["ada at example"]})
    error = refused(IDP.signed_assertion_response(response))
    assert (error.code, error.actual) == ("email_missing", "ada at example")


# Clock skew: 120 s allowed either way, measured in `actual`.

def test_assertion_within_the_skew_before_not_before_is_accepted():
    assert verify(IDP.signed_assertion_response(), now=NOW - timedelta(seconds=120)).profile


def test_assertion_just_past_the_skew_before_not_before_is_not_yet_valid():
    error = refused(IDP.signed_assertion_response(), now=NOW - timedelta(seconds=121))
    assert error.code == "assertion_not_yet_valid"
    assert error.actual == "2026-03-01T11:57:59Z: 121 s early"
    assert error.expected == "on or after 2026-03-01T12:00:00Z (Conditions, 120 s skew allowed)"


def test_assertion_just_inside_the_skew_after_not_on_or_after_is_accepted():
    assert verify(IDP.signed_assertion_response(), now=NOW + timedelta(minutes=5, seconds=119)).profile


def test_assertion_at_not_on_or_after_plus_skew_is_expired():
    error = refused(IDP.signed_assertion_response(), now=NOW + timedelta(minutes=5, seconds=120))
    assert (error.code, error.fix_in) == ("assertion_expired", "identity_provider")
    assert error.expected == "before 2026-03-01T12:05:00Z (SubjectConfirmationData, 120 s skew allowed)"
    assert error.actual == "2026-03-01T12:07:00Z: 120 s late"


def test_assertion_older_than_the_maximum_age_is_expired_whatever_its_not_on_or_after():
    response = IDP.response(lifetime=timedelta(days=7))
    error = refused(IDP.signed_assertion_response(response), now=NOW + timedelta(minutes=13))
    assert error.code == "assertion_expired"
    assert "IssueInstant" in error.expected
    assert error.actual == "2026-03-01T12:13:00Z: 180 s late"


def test_replay_window_is_bounded_by_the_maximum_age():
    sign_in = verify(IDP.signed_assertion_response(IDP.response(lifetime=timedelta(days=7))))
    assert sign_in.remember_until == NOW + timedelta(minutes=10, seconds=120)


def test_measured_skew_of_an_idp_running_ahead():
    sign_in = verify(IDP.signed_assertion_response(IDP.response(issued=NOW + timedelta(seconds=90))))
    assert sign_in.skew_seconds == 90


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, 0, 0, tzinfo=NOW.tzinfo)),
    ("2026-03-01T12:00:00.1234567Z", datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=NOW.tzinfo)),
    ("2026-03-01T12:00:00", datetime(2026, 3, 1, 12, 0, 0, tzinfo=NOW.tzinfo)),
    ("2026-03-01T14:00:00.5+02:00", datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=NOW.tzinfo)),
])
def test_saml_instants_as_idps_write_them(text, expected):
    assert parse_instant(text, "test") == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z", "2026-03-01 12:00:00Z"])
def test_unreadable_instants_are_malformed(text):
    with pytest.raises(SignInError) as caught:
        parse_instant(text, "test")
    assert caught.value.code == "malformed_response"


# Replay: the caller records each assertion ID once, until remember_until.

class SeenInMemory:
    def __init__(self) -> None:
        self.recorded: dict[tuple[str, str], datetime] = {}

    async def first_use(self, connection_id: str, assertion_id: str, until: datetime) -> bool:
        if (connection_id, assertion_id) in self.recorded:
            return False
        self.recorded[(connection_id, assertion_id)] = until
        return True


async def test_an_assertion_is_accepted_once():
    seen = SeenInMemory()
    posted = encoded(IDP.signed_assertion_response())
    await accept_once(verify(posted), seen)
    assert seen.recorded == {("conn_1", "_a1"): NOW + timedelta(minutes=7)}

    with pytest.raises(SignInError) as caught:
        await accept_once(verify(posted, now=NOW + timedelta(seconds=30)), seen)
    assert (caught.value.code, caught.value.actual) == ("assertion_replayed", "_a1")


async def test_replay_is_refused_by_time_once_the_id_may_be_forgotten():
    posted = encoded(IDP.signed_assertion_response())
    first = verify(posted)
    error = refused(posted, now=first.remember_until)
    assert error.code == "assertion_expired"


def test_trust_from_a_connection_model(saml_connection):
    trust = SamlTrust.from_connection(saml_connection)
    assert (trust.connection_id, trust.organization_id, trust.idp_entity_id, trust.certificates) == (
        "conn_1", "org_1", IDP_ENTITY_ID, (IDP.pem,))


@pytest.fixture
def saml_connection():
    from connection_config.model import Certificate, Connection, SamlSettings

    certificate = Certificate(IDP.pem, fingerprint(IDP.certificate), "CN=idp.example.org",
                              IDP.certificate.not_valid_before_utc, IDP.certificate.not_valid_after_utc)
    return Connection(
        id="conn_1", organization_id="org_1", type="saml", provider="keycloak", status="enabled", version=3,
        created_at=NOW, created_by="user:1", updated_at=NOW, updated_by="user:1",
        saml=SamlSettings(idp_entity_id=IDP_ENTITY_ID, sso_url="https://idp.example.org/sso",
                          certificates=(certificate,)),
    )
