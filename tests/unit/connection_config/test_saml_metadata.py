"""SAML metadata and certificates: real-world shapes parse; hostile or broken documents are refused with a reason."""
import base64
from datetime import UTC, datetime, timedelta

import pytest
from saml2.md import entity_descriptor_from_string

from connection_config import saml
from connection_config.model import ConnectionProblem
from tests.fixtures.identity_providers import (
    der_base64,
    expired_certificate,
    fingerprint,
    make_certificate,
    pem,
    pysaml2_metadata,
    vendor_metadata,
)

NOW = datetime.now(UTC)
FIELD = "saml.metadata_xml"


def parse(document: str | bytes):
    raw = document.encode() if isinstance(document, str) else document
    return saml.parse_idp_metadata(raw, now=NOW, field=FIELD)


def refused(document: str | bytes) -> ConnectionProblem:
    with pytest.raises(ConnectionProblem) as caught:
        parse(document)
    assert caught.value.field == FIELD
    assert caught.value.status in (400, 413, 422)
    return caught.value


@pytest.mark.parametrize(
    ("vendor", "entity_id", "sso_url"),
    [
        ("okta", "http://www.okta.com/exk1fcia6d6EMsf331d8",
         "https://dev-31415926.okta.com/app/dev-31415926_portico_1/exk1fcia6d6EMsf331d8/sso/saml"),
        ("entra_id", "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
         "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2"),
        ("google_workspace", "https://accounts.google.com/o/saml2?idpid=C03abcd12",
         "https://accounts.google.com/o/saml2/idp?idpid=C03abcd12"),
    ],
)
def test_vendor_metadata_yields_entity_id_sso_url_and_signing_certificate(vendor, entity_id, sso_url):
    cert = make_certificate()
    metadata = parse(vendor_metadata(vendor, cert))
    assert metadata.entity_id == entity_id
    assert metadata.sso_url == sso_url
    assert metadata.sso_binding == "HTTP-Redirect"
    assert [c.fingerprint_sha256 for c in metadata.certificates] == [fingerprint(cert)]
    assert metadata.warnings == ()


def test_entra_metadata_keeps_both_certificates_during_rotation():
    current, upcoming = make_certificate(), make_certificate(common_name="next.example.com")
    metadata = parse(vendor_metadata("entra_id", current, upcoming))
    assert {c.fingerprint_sha256 for c in metadata.certificates} == {fingerprint(current), fingerprint(upcoming)}


def test_metadata_written_by_pysaml2_parses():
    cert = make_certificate()
    metadata = parse(pysaml2_metadata(cert))
    assert metadata.entity_id == "https://idp.example.org/idp/shibboleth"
    assert metadata.sso_url == "https://idp.example.org/idp/profile/SAML2/Redirect/SSO"
    assert "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" in metadata.name_id_formats
    assert metadata.certificates[0].subject == "CN=idp.example.com"


def test_post_binding_is_used_when_the_idp_offers_no_redirect():
    document = vendor_metadata("okta", make_certificate()).replace(
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"',
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"')
    assert parse(document).sso_binding == "HTTP-POST"


def test_xxe_metadata_is_refused_without_reading_the_file():
    document = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&xxe;"/>')
    problem = refused(document)
    assert problem.code == "metadata_dtd_forbidden"
    assert "root:" not in problem.message


def test_billion_laughs_is_refused():
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    document = (f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]>'
                '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol9;"/>')
    assert refused(document).code == "metadata_dtd_forbidden"


def test_external_dtd_is_refused():
    document = '<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd"><r/>'
    assert refused(document).code == "metadata_dtd_forbidden"


def test_oversized_metadata_is_refused_before_parsing():
    document = vendor_metadata("okta", make_certificate()).replace(
        "</md:EntityDescriptor>", "<!--" + "x" * saml.MAX_METADATA_BYTES + "--></md:EntityDescriptor>")
    assert refused(document).code == "metadata_too_large"


@pytest.mark.parametrize("document", ["", "   ", "not xml at all", '{"json": true}', "<unclosed"])
def test_non_xml_is_refused(document):
    assert refused(document).code in ("metadata_empty", "metadata_not_xml")


def test_html_page_is_explained():
    problem = refused("<!DOCTYPE html><html><body>Sign in</body></html>")
    assert problem.code == "metadata_is_html"
    assert "web page" in problem.message


@pytest.mark.parametrize("document", [
    '<EntityDescriptor entityID="x"/>',  # no SAML namespace
    '<md:EntityDescriptor xmlns:md="urn:example:not-saml" entityID="x"/>',
    '<svg xmlns="http://www.w3.org/2000/svg"/>',
])
def test_wrong_root_is_refused(document):
    assert refused(document).code == "metadata_wrong_root"


def test_service_provider_metadata_is_recognised_and_refused():
    document = saml.render_sp_metadata("https://portico.example.com", "conn_abc", "urn:x")
    problem = refused(document)
    assert problem.code == "metadata_no_identity_provider"
    assert "service provider" in problem.message


def test_metadata_without_certificate_is_refused():
    document = vendor_metadata("okta", make_certificate())
    start, end = document.index("<md:KeyDescriptor"), document.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")
    assert refused(document[:start] + document[end:]).code == "metadata_no_signing_certificate"


def test_encryption_only_certificate_does_not_count_as_signing():
    document = vendor_metadata("okta", make_certificate()).replace('use="signing"', 'use="encryption"')
    assert refused(document).code == "metadata_no_signing_certificate"


def test_metadata_with_only_an_expired_certificate_is_refused():
    problem = refused(vendor_metadata("okta", expired_certificate()))
    assert problem.code == "certificate_expired"
    assert "expired" in problem.message


def test_expired_certificate_beside_a_current_one_is_skipped_with_a_warning():
    current = make_certificate()
    metadata = parse(vendor_metadata("entra_id", expired_certificate(), current))
    assert [c.fingerprint_sha256 for c in metadata.certificates] == [fingerprint(current)]
    assert [w.code for w in metadata.warnings] == ["expired_certificate_skipped"]


def test_malformed_certificate_in_metadata_is_refused():
    document = vendor_metadata("okta", make_certificate()).replace("<ds:X509Certificate>MII", "<ds:X509Certificate>XXX")
    assert refused(document).code == "certificate_invalid"


def test_metadata_with_two_identity_providers_asks_for_one():
    one = vendor_metadata("okta", make_certificate()).split("?>", 1)[1]
    document = ('<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
                + one + one.replace("exk1fcia6d6EMsf331d8", "other") + "</md:EntitiesDescriptor>")
    assert refused(document).code == "metadata_several_identity_providers"


def test_entities_descriptor_with_one_identity_provider_is_accepted():
    one = vendor_metadata("google_workspace", make_certificate()).split("?>", 1)[1]
    document = f'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{one}</md:EntitiesDescriptor>'
    assert parse(document).entity_id == "https://accounts.google.com/o/saml2?idpid=C03abcd12"


def test_sso_url_must_be_https():
    document = vendor_metadata("okta", make_certificate()).replace("https://dev-31415926", "http://dev-31415926")
    assert refused(document).code == "https_required"


def test_signed_request_requirement_and_stale_metadata_are_warned_about():
    document = vendor_metadata("google_workspace", make_certificate()).replace(
        'WantAuthnRequestsSigned="false"', 'WantAuthnRequestsSigned="true"').replace(
        'validUntil="2031-06-01T12:00:00.000Z"', 'validUntil="2020-01-01T00:00:00Z"')
    assert {w.code for w in parse(document).warnings} == {"signed_requests_unsupported", "metadata_expired"}


def test_certificate_accepts_pem_and_bare_base64():
    cert = make_certificate()
    assert saml.parse_certificate(pem(cert), "f").fingerprint_sha256 == fingerprint(cert)
    assert saml.parse_certificate(der_base64(cert), "f").fingerprint_sha256 == fingerprint(cert)


@pytest.mark.parametrize(("text", "code"), [
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "certificate_invalid"),
    ("hello", "certificate_invalid"),
    ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "private_key_not_accepted"),
    ("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", "certificate_invalid"),
    ("", "certificate_empty"),
])
def test_bad_certificate_text_is_refused(text, code):
    with pytest.raises(ConnectionProblem) as caught:
        saml.parse_certificate(text, "saml.certificates.0")
    assert (caught.value.code, caught.value.field) == (code, "saml.certificates.0")


def test_weak_rsa_key_is_refused():
    with pytest.raises(ConnectionProblem) as caught:
        saml.parse_certificate(pem(make_certificate(key_size=1024)), "saml.certificates.0")
    assert caught.value.code == "certificate_weak_key"


def test_entered_expired_certificate_names_its_position():
    with pytest.raises(ConnectionProblem) as caught:
        saml.parse_entered_certificates([pem(make_certificate()), pem(expired_certificate())], NOW)
    assert (caught.value.code, caught.value.field) == ("certificate_expired", "saml.certificates.1")


def test_certificate_expiring_within_30_days_is_warned_about():
    soon = saml.parse_certificate(pem(make_certificate(valid_days=20)), "f")
    later = saml.parse_certificate(pem(make_certificate(valid_days=400)), "f")
    warnings = saml.certificate_warnings((later, soon), NOW)
    assert [(w.code, w.field) for w in warnings] == [("certificate_expiring", "saml.certificates.1")]
    assert saml.certificate_warnings((soon,), NOW + timedelta(days=25))[0].code == "certificate_expired"


def test_sp_metadata_is_read_by_a_real_saml_library():
    document = saml.render_sp_metadata("https://sso.example.com/", "conn_0123", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    descriptor = entity_descriptor_from_string(document.decode())
    assert descriptor.entity_id == "https://sso.example.com/sso/saml/conn_0123"
    acs = descriptor.spsso_descriptor[0].assertion_consumer_service[0]
    assert acs.location == "https://sso.example.com/sso/saml/conn_0123/acs"
    assert acs.binding == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


@pytest.mark.parametrize("encoding", ["UTF-16", "ISO-8859-1", "utf-8"])
def test_pasted_metadata_ignores_the_encoding_it_declared_as_a_file(encoding):
    document = vendor_metadata("okta", make_certificate()).replace('encoding="UTF-8"', f'encoding="{encoding}"')
    metadata = saml.parse_idp_metadata(saml.pasted_metadata(document), now=NOW, field=FIELD)
    assert metadata.entity_id == "http://www.okta.com/exk1fcia6d6EMsf331d8"


# Found by tests/unit/connection_config/test_saml_metadata_fuzz.py (docs/fuzzing.md): each was a 500 before.
@pytest.mark.parametrize("encoding", ["x-unknown-charset", "shift_jis", "utf-32", "rot13", "base64", "idna"])
def test_metadata_declaring_an_encoding_the_parser_cannot_read_is_refused(encoding):
    document = vendor_metadata("okta", make_certificate()).replace('encoding="UTF-8"', f'encoding="{encoding}"')
    assert refused(document).code == "metadata_encoding_unsupported"


def test_certificate_with_an_unknown_key_algorithm_is_refused():
    cert = make_certificate()
    der = base64.b64decode(der_base64(cert))
    rsa_encryption = bytes.fromhex("06092a864886f70d010101")  # OID 1.2.840.113549.1.1.1
    unknown_algorithm = der.replace(rsa_encryption, bytes.fromhex("0609008648 86f70d010101".replace(" ", "")))
    with pytest.raises(ConnectionProblem) as caught:
        saml.parse_certificate(base64.b64encode(unknown_algorithm).decode(), "saml.certificates.0")
    assert caught.value.code == "certificate_invalid" and caught.value.field == "saml.certificates.0"
    metadata = vendor_metadata("okta", cert).replace(der_base64(cert), base64.b64encode(unknown_algorithm).decode())
    assert refused(metadata).code == "certificate_invalid"


def test_certificate_with_an_invalid_x509_version_is_refused():
    der = bytearray(base64.b64decode(der_base64(make_certificate())))
    version = der.index(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2: v3
    der[version + 4] = 1  # v2, which X.509 certificates with extensions cannot be
    with pytest.raises(ConnectionProblem) as caught:
        saml.parse_certificate(base64.b64encode(bytes(der)).decode(), "saml.certificates.0")
    assert caught.value.code == "certificate_invalid"
