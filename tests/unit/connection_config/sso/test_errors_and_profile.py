"""The error catalogue matches the contract; profiles map the attribute and claim names IdPs use."""
import pytest

from connection_config.model import AttributeMapping
from connection_config.sso.errors import CATALOGUE, SignInError
from connection_config.sso.profile import normalized_email, oidc_profile, saml_profile
from shared.errors import DomainError

# BRIEF §5, "Error codes (at least)".
SAML_CODES = {"signature_invalid", "unsigned_assertion", "certificate_mismatch", "issuer_mismatch", "audience_mismatch",
              "destination_mismatch", "in_response_to_mismatch", "assertion_expired", "assertion_not_yet_valid",
              "assertion_replayed", "weak_algorithm", "idp_error", "malformed_response", "email_missing"}
OIDC_CODES = {"idp_error", "token_exchange_failed", "id_token_invalid", "nonce_mismatch", "email_missing"}


def test_every_contract_code_has_a_sentence_and_who_fixes_it():
    assert SAML_CODES | OIDC_CODES | {"connection_not_enabled"} <= set(CATALOGUE)
    for code, (message, fix_in) in CATALOGUE.items():
        assert message.endswith(".") and fix_in in ("identity_provider", "portico"), code


def test_sign_in_error_is_a_domain_error_with_the_test_result_shape():
    error = SignInError("audience_mismatch", expected="https://sp", actual="https://other")
    assert isinstance(error, DomainError)
    assert error.as_dict() == {"code": "audience_mismatch", "message": CATALOGUE["audience_mismatch"][0],
                               "fix_in": "identity_provider", "expected": "https://sp", "actual": "https://other"}
    assert error.extra == {"fix_in": "identity_provider", "expected": "https://sp", "actual": "https://other"}


def test_sign_in_error_without_values_leaves_them_out():
    assert SignInError("unsigned_assertion").as_dict() == {
        "code": "unsigned_assertion", "message": CATALOGUE["unsigned_assertion"][0], "fix_in": "identity_provider"}


def test_unknown_code_is_a_programming_error():
    with pytest.raises(KeyError):
        SignInError("something_else")


@pytest.mark.parametrize(("raw", "expected"), [
    (" Ada@Example.COM ", "ada@example.com"), ("a@b.co", "a@b.co"), ("ada", None), ("ada@localhost", None),
    ("a b@example.com", None), ("a@b@example.com", None), ("", None), (None, None), ("x" * 320 + "@example.com", None),
])
def test_email_normalization(raw, expected):
    assert normalized_email(raw) == expected


DEFAULT_MAPPING = AttributeMapping()


def saml(attributes, *, name_id="u-1", name_id_format=None, mapping=DEFAULT_MAPPING):
    return saml_profile(name_id=name_id, name_id_format=name_id_format, attributes=attributes, mapping=mapping,
                        connection_id="conn_1", organization_id="org_1")


def test_configured_attribute_names_win_over_common_ones():
    profile = saml({"mail": ["common@example.com"], "workEmail": ["configured@example.com"], "gn": ["Configured"],
                    "givenName": ["Common"]}, mapping=AttributeMapping(email="workEmail", first_name="gn"))
    assert (profile.email, profile.first_name) == ("configured@example.com", "Configured")


@pytest.mark.parametrize("names", [
    ("mail", "givenName", "sn", "memberOf"),
    ("urn:oid:0.9.2342.19200300.100.1.3", "urn:oid:2.5.4.42", "urn:oid:2.5.4.4", "groups"),
    ("Email", "FirstName", "LastName", "Groups"),
    ("emailaddress", "given_name", "surname", "roles"),
])
def test_common_saml_attribute_names(names):
    email, first, last, groups = names
    profile = saml({email: ["Ada@Example.com"], first: ["Ada"], last: ["Lovelace"], groups: ["a", "b", "a"]})
    assert (profile.email, profile.first_name, profile.last_name, profile.groups) == (
        "ada@example.com", "Ada", "Lovelace", ("a", "b"))


def test_email_name_id_is_the_email_when_no_attribute_gives_one():
    profile = saml({}, name_id="Ada@Example.com", name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    assert (profile.idp_id, profile.email, profile.first_name, profile.groups) == (
        "Ada@Example.com", "ada@example.com", None, ())


def test_oidc_claims_map_to_the_profile():
    claims = {"sub": "s-1", "email": "Grace@Example.com", "given_name": " Grace ", "family_name": "", "groups": "eng"}
    profile = oidc_profile(claims, connection_id="conn_2", organization_id="org_1")
    assert (profile.email, profile.first_name, profile.last_name, profile.groups, profile.raw_attributes) == (
        "grace@example.com", "Grace", None, ("eng",), claims)


def test_oidc_unverified_email_is_still_the_email():
    profile = oidc_profile({"sub": "s", "email": "a@example.com", "email_verified": False},
                           connection_id="conn_2", organization_id="org_1")
    assert profile.email == "a@example.com"
