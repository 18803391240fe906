"""Attacks on the signature: tampering, signature wrapping (XSW), comment injection, weak and odd algorithms.
Each is refused with its code, or, where the document still verifies, only the signed values are used."""
import copy
from datetime import timedelta

import pytest
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod

from connection_config.sso.errors import SignInError
from connection_config.sso.saml_response import SamlTrust, verify_saml_response
from connection_config.sso.xmlsig import PinnedCertificate, verify_enveloped
from tests.unit.connection_config.sso.idp import (
    DS,
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
A, P = f"{{{SAML}}}", f"{{{SAMLP}}}"


def verify(posted: etree._Element | str, trust: SamlTrust = TRUST):
    value = posted if isinstance(posted, str) else encoded(posted)
    return verify_saml_response(value, trust=trust, sp=SP, expected_in_response_to=REQUEST_ID, now=NOW)


def refused(posted: etree._Element | str, trust: SamlTrust = TRUST) -> SignInError:
    with pytest.raises(SignInError) as caught:
        verify(posted, trust)
    return caught.value


def evil_assertion(assertion_id: str = "_evil") -> etree._Element:
    """An unsigned assertion naming the attacker's target, otherwise valid in every field."""
    forged = IDP.response(name_id="ceo@example.com", assertion_id=assertion_id).find(f"{A}Assertion")
    return copy.deepcopy(forged)


def signed_assertion_of(response: etree._Element) -> etree._Element:
    return response.find(f"{A}Assertion")


# Tampering after signing

def test_attribute_changed_after_signing_is_an_invalid_signature():
    response = IDP.signed_assertion_response()
    signed_assertion_of(response).find(f"{A}AttributeStatement/{A}Attribute/{A}AttributeValue").text = "Mallory"
    error = refused(response)
    assert error.code == "signature_invalid"
    assert "digest mismatch" in error.message


def test_name_id_changed_in_a_signed_response_is_an_invalid_signature():
    response = IDP.signed_response()
    response.find(f"{A}Assertion/{A}Subject/{A}NameID").text = "ceo@example.com"
    assert refused(response).code == "signature_invalid"


def test_signature_value_changed_is_an_invalid_signature():
    response = IDP.signed_assertion_response()
    value = signed_assertion_of(response).find(f"{{{DS}}}Signature/{{{DS}}}SignatureValue")
    value.text = "A" + value.text[1:] if value.text[0] != "A" else "B" + value.text[1:]
    assert refused(response).code == "signature_invalid"


def test_signature_removed_leaves_an_unsigned_assertion():
    response = IDP.signed_assertion_response()
    assertion = signed_assertion_of(response)
    assertion.remove(assertion.find(f"{{{DS}}}Signature"))
    assert refused(response).code == "unsigned_assertion"


# Signature wrapping (XSW): the signed assertion stays valid, a forged one is what a naive SP reads

@pytest.mark.parametrize("position", ["before", "after"])
def test_second_unsigned_assertion_beside_the_signed_one_is_refused(position):
    response = IDP.signed_assertion_response()
    signed = signed_assertion_of(response)
    (signed.addprevious if position == "before" else signed.addnext)(evil_assertion())
    error = refused(response)
    assert (error.code, error.actual) == ("malformed_response", "2 assertions")


def test_signed_assertion_moved_into_extensions_behind_a_forged_one_is_refused():
    response = IDP.signed_assertion_response()
    signed = signed_assertion_of(response)
    extensions = etree.Element(f"{P}Extensions")
    response.find(f"{A}Issuer").addnext(extensions)
    response.replace(signed, evil_assertion())
    extensions.append(signed)
    error = refused(response)
    assert (error.code, error.actual) == ("malformed_response", "2 assertions")


def test_forged_assertion_carrying_the_signature_of_one_hidden_in_extensions_is_refused():
    """XSW with the signature copied into the forged assertion; the original, unsigned, sits in Extensions."""
    response = IDP.signed_assertion_response()
    signed = signed_assertion_of(response)
    signature = signed.find(f"{{{DS}}}Signature")
    forged = evil_assertion()
    forged.find(f"{A}Issuer").addnext(signature)  # moves it out of the original
    extensions = etree.Element(f"{P}Extensions")
    response.find(f"{A}Issuer").addnext(extensions)
    response.replace(signed, forged)
    extensions.append(signed)
    assert refused(response).code == "malformed_response"
    # And the wrapper alone, without the one-assertion rule: the reference must be the signature's own parent.
    with pytest.raises(SignInError) as caught:
        verify_enveloped(response, signature, [PinnedCertificate.from_pem(IDP.pem)], now=NOW)
    assert (caught.value.code, caught.value.expected, caught.value.actual) == ("signature_invalid", "#_evil", "#_a1")


def test_signed_assertion_hidden_in_the_signature_object_is_refused():
    response = IDP.signed_assertion_response()
    signed = signed_assertion_of(response)
    signature = copy.deepcopy(signed.find(f"{{{DS}}}Signature"))
    signed.remove(signed.find(f"{{{DS}}}Signature"))
    forged = evil_assertion()
    forged.find(f"{A}Issuer").addnext(signature)
    response.replace(signed, forged)
    etree.SubElement(signature, f"{{{DS}}}Object").append(signed)
    error = refused(response)
    assert (error.code, error.actual) == ("malformed_response", "2 assertions")


def test_element_sharing_the_signed_id_elsewhere_is_an_ambiguous_reference():
    response = IDP.signed_assertion_response()
    extensions = etree.Element(f"{P}Extensions")
    etree.SubElement(extensions, "Decoy", ID="_a1")
    response.find(f"{A}Issuer").addnext(extensions)
    error = refused(response)
    assert error.code == "signature_invalid"
    assert "Ambiguous" in error.actual


def test_response_signature_moved_into_the_assertion_does_not_cover_it():
    response = IDP.signed_response()
    signature = response.find(f"{{{DS}}}Signature")
    signed_assertion_of(response).find(f"{A}Issuer").addnext(signature)
    error = refused(response)
    assert (error.code, error.expected, error.actual) == ("signature_invalid", "#_a1", "#_r1")


def test_forged_assertion_added_to_a_signed_response_is_refused():
    response = IDP.signed_response()
    response.append(evil_assertion())
    assert refused(response).code == "malformed_response"


def test_signed_response_rewrapped_in_a_forged_one_is_refused():
    """XSW on the response: a forged Response with a forged assertion wraps the original signed Response."""
    original = IDP.signed_response()
    forged = IDP.response(name_id="ceo@example.com", assertion_id="_evil")
    forged.set("ID", "_forged")
    extensions = etree.Element(f"{P}Extensions")
    forged.find(f"{A}Issuer").addnext(extensions)
    extensions.append(original)
    forged.find(f"{A}Issuer").addnext(copy.deepcopy(original.find(f"{{{DS}}}Signature")))
    assert refused(forged).code == "malformed_response"


def test_comment_injected_into_the_name_id_reads_as_signed():
    """"user@evil.com<!---->.example.com" verifies (comments are not signed); the value read is the signed one."""
    signed = IDP.signed_assertion_response(IDP.response(name_id="user@evil.com.example.com", attributes={}))
    text = etree.tostring(signed).decode()
    assert text.count("user@evil.com.example.com") == 1
    posted = text.replace("user@evil.com.example.com", "user@evil.com<!---->.example.com").encode()
    profile = verify(encoded(posted)).profile
    assert (profile.idp_id, profile.email) == ("user@evil.com.example.com", "user@evil.com.example.com")


def test_wrapper_returns_the_signed_bytes_parsed_anew_not_the_posted_element():
    signed = IDP.signed_assertion_response(IDP.response(name_id="user@evil.com.example.com", attributes={}))
    posted = etree.fromstring(etree.tostring(signed).replace(b"user@evil.com.example.com",
                                                             b"user@evil.com<!---->.example.com"))
    assertion = signed_assertion_of(posted)
    name_id = f"{A}Subject/{A}NameID"
    assert assertion.find(name_id).text == "user@evil.com"  # what a reader of the posted tree gets
    verified = verify_enveloped(posted, assertion.find(f"{{{DS}}}Signature"), [PinnedCertificate.from_pem(IDP.pem)],
                                now=NOW)
    assert verified.element.find(name_id).text == "user@evil.com.example.com"
    assert verified.element.getparent() is None and verified.element is not assertion


def test_comment_injected_into_an_email_attribute_reads_as_signed():
    signed = IDP.signed_response(IDP.response(name_id="a1b2", attributes={"email": ["ada@example.com.evil.net"]}))
    posted = etree.tostring(signed).replace(b"ada@example.com.evil.net", b"ada@example.com<!-- x -->.evil.net")
    assert verify(encoded(posted)).profile.email == "ada@example.com.evil.net"


# Algorithms

def test_rsa_sha1_signature_is_a_weak_algorithm():
    response = IDP.signed_assertion_response(signature_algorithm=SignatureMethod.RSA_SHA1,
                                             digest_algorithm=DigestAlgorithm.SHA1)
    error = refused(response)
    assert (error.code, error.fix_in, error.actual) == (
        "weak_algorithm", "identity_provider", "http://www.w3.org/2000/09/xmldsig#rsa-sha1")


def test_sha1_digest_under_a_sha256_signature_is_a_weak_algorithm():
    error = refused(IDP.signed_assertion_response(digest_algorithm=DigestAlgorithm.SHA1))
    assert (error.code, error.actual) == ("weak_algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")


def test_stronger_algorithms_are_accepted():
    sign_in = verify(IDP.signed_assertion_response(signature_algorithm=SignatureMethod.RSA_SHA512,
                                                   digest_algorithm=DigestAlgorithm.SHA384))
    assert sign_in.signature_algorithm == SignatureMethod.RSA_SHA512.value
    assert sign_in.digest_algorithm == DigestAlgorithm.SHA384.value


def _signed_info(response: etree._Element) -> etree._Element:
    return signed_assertion_of(response).find(f"{{{DS}}}Signature/{{{DS}}}SignedInfo")


def test_hmac_signature_method_is_refused():
    """An HMAC 'signature' keyed with the public certificate would be forgeable by anyone."""
    response = IDP.signed_assertion_response()
    _signed_info(response).find(f"{{{DS}}}SignatureMethod").set(
        "Algorithm", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256")
    error = refused(response)
    assert (error.code, error.actual) == ("weak_algorithm", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256")


def test_base64_transform_is_refused():
    response = IDP.signed_assertion_response()
    transform = _signed_info(response).find(f"{{{DS}}}Reference/{{{DS}}}Transforms/{{{DS}}}Transform")
    transform.set("Algorithm", "http://www.w3.org/2000/09/xmldsig#base64")
    error = refused(response)
    assert (error.code, error.actual) == ("signature_invalid", "http://www.w3.org/2000/09/xmldsig#base64")


def test_second_reference_is_refused():
    response = IDP.signed_assertion_response()
    signed_info = _signed_info(response)
    signed_info.append(copy.deepcopy(signed_info.find(f"{{{DS}}}Reference")))
    error = refused(response)
    assert (error.code, error.actual) == ("signature_invalid", "2 references")


# Certificates across organizations

def test_a_connection_of_another_organization_does_not_trust_this_idp():
    other_certificate = certificate_for(rsa_key("other"), valid_from=NOW - timedelta(days=1))
    other_trust = SamlTrust("conn_9", "org_9", IDP_ENTITY_ID, (pem(other_certificate),))
    error = refused(IDP.signed_assertion_response(), trust=other_trust)
    assert (error.code, error.expected) == ("certificate_mismatch", [fingerprint(other_certificate)])
