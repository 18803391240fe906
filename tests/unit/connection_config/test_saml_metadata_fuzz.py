"""Fuzzing the SAML metadata parser and the OIDC checks in-process: whatever comes in either parses or is
refused with ConnectionProblem (which the API answers as a 4xx), never another exception, within 2 s a call.

FUZZ_EXAMPLES (default 50) sets the examples per test; docs/fuzzing.md says how to run a longer campaign.
"""
import base64
import copy
import json
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connection_config import oidc, saml
from connection_config.model import ConnectionProblem
from tests.fixtures.identity_providers import der_base64, expired_certificate, make_certificate, vendor_metadata

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
CAMPAIGN = "FUZZ_EXAMPLES" in os.environ  # a chosen length explores afresh; the default run repeats itself
TIME_BOUND_S = 2.0
NOW = datetime.now(UTC)
FIELD = "saml.metadata_xml"
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=not CAMPAIGN,
                suppress_health_check=[HealthCheck.too_slow])

CERTIFICATE = make_certificate()
VENDORS = {
    vendor: vendor_metadata(vendor, CERTIFICATE, make_certificate(common_name="next.example.com"))
    for vendor in ("okta", "entra_id", "google_workspace")
}
GOOD_DER = base64.b64decode(der_base64(CERTIFICATE))
OTHER_NAMESPACES = ("", "urn:oasis:names:tc:SAML:1.0:metadata", "http://www.w3.org/2000/09/xmldsig#",
                    saml.MD, "urn:example:wrong")
SAML_ATTRIBUTES = ("entityID", "Binding", "Location", "protocolSupportEnumeration", "use", "validUntil",
                   "WantAuthnRequestsSigned")
ENTITY_PREFIXES = (
    b'<?xml version="1.0"?><!DOCTYPE md [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE md SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b'<!DOCTYPE md [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE md [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]>',
    b'<?xml version="1.0" encoding="x-unknown-charset"?>',
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>',
    b"\xef\xbb\xbf",
)
Result = TypeVar("Result")


def bounded(call: Callable[[], Result]) -> Result | ConnectionProblem:
    """The call's result, or the ConnectionProblem it raised; any other exception fails the test.

    The bound is on CPU time, which a loop or a blow-up burns and a busy machine does not inflate;
    wall time only has to stay under a generous multiple of it.
    """
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    try:
        return call()
    except ConnectionProblem as problem:
        assert problem.code and problem.message and problem.status in (400, 413, 422)
        return problem
    finally:
        cpu, wall = time.process_time() - cpu_started, time.perf_counter() - wall_started
        assert cpu < TIME_BOUND_S and wall < 5 * TIME_BOUND_S, f"took {cpu:.2f} s of CPU, {wall:.2f} s in all"


def parse(document: bytes, *, record: bool = True) -> saml.IdpMetadata | ConnectionProblem:
    outcome = bounded(lambda: saml.parse_idp_metadata(document, now=NOW, field=FIELD))
    if record:
        event(outcome.code if isinstance(outcome, ConnectionProblem) else "parsed")
    if isinstance(outcome, ConnectionProblem):
        assert outcome.field == FIELD or (outcome.field or "").startswith("saml.")
    else:
        assert outcome.entity_id and outcome.sso_url.startswith(("https://", "http://")) and outcome.certificates
    return outcome


# Random XML, with SAML's own names often enough to get past the first checks.
names = st.sampled_from(("EntityDescriptor", "EntitiesDescriptor", "IDPSSODescriptor", "SPSSODescriptor",
                         "KeyDescriptor", "KeyInfo", "X509Data", "X509Certificate", "SingleSignOnService",
                         "NameIDFormat", "x"))
texts = (
    st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40)
    | st.text(max_size=5)
    | st.sampled_from(("signing", "encryption", saml.SAML2_PROTOCOL, *saml.BINDINGS.values(),
                       "https://idp.example.com/sso", "http://127.0.0.1/sso", "true",
                       "2000-01-01T00:00:00Z", der_base64(CERTIFICATE)))
)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    """A random element tree; the root is usually a SAML EntityDescriptor, to reach past the first checks."""
    if depth == 0 and draw(st.booleans()):
        tag = f"{{{saml.MD}}}{draw(st.sampled_from(('EntityDescriptor', 'EntitiesDescriptor')))}"
    else:
        namespace = draw(st.sampled_from(OTHER_NAMESPACES))
        tag = f"{{{namespace}}}{draw(names)}" if namespace else draw(names)
    element = ET.Element(tag)
    for name in draw(st.lists(st.sampled_from(SAML_ATTRIBUTES), max_size=4, unique=True)):
        element.set(name, draw(texts))
    if draw(st.booleans()):
        element.text = draw(texts)
    if depth < 3:
        element.extend(draw(st.lists(elements(depth + 1), max_size=3)))
    return element


def mutate_tree(data: st.DataObject, root: ET.Element) -> None:
    """One structural mutation of the document: drop, duplicate, rename, re-value or corrupt a part."""
    everything = list(root.iter())
    parents = {child: parent for parent in everything for child in parent}
    target = data.draw(st.sampled_from(everything))
    mutation = data.draw(st.sampled_from(("drop_element", "duplicate_element", "drop_attribute", "huge_attribute",
                                          "wrong_namespace", "attribute_value", "bad_certificate",
                                          "corrupt_der", "huge_text")))
    if mutation == "drop_element" and target in parents:
        parents[target].remove(target)
    elif mutation == "duplicate_element" and target in parents:
        for _ in range(data.draw(st.integers(1, 50))):
            parents[target].append(copy.deepcopy(target))
    elif mutation == "drop_attribute" and target.attrib:
        del target.attrib[data.draw(st.sampled_from(sorted(target.attrib)))]
    elif mutation == "huge_attribute":
        name = data.draw(st.sampled_from(sorted(target.attrib) or list(SAML_ATTRIBUTES)))
        target.set(name, data.draw(st.sampled_from(("x", "https://a.example.com/", " ", "é"))) * data.draw(
            st.integers(1000, 400_000)))
    elif mutation == "wrong_namespace":
        local = target.tag.rpartition("}")[2]
        namespace = data.draw(st.sampled_from(OTHER_NAMESPACES))
        target.tag = f"{{{namespace}}}{local}" if namespace else local
    elif mutation == "attribute_value":
        target.set(data.draw(st.sampled_from(SAML_ATTRIBUTES)), data.draw(texts))
    elif mutation in ("bad_certificate", "corrupt_der"):
        certificates = list(root.iter(f"{{{saml.DS}}}X509Certificate")) or [target]
        certificate = data.draw(st.sampled_from(certificates))
        if mutation == "bad_certificate":
            certificate.text = data.draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                          "0123456789+/=- \n", max_size=3000))
        else:
            der = bytearray(GOOD_DER)
            for _ in range(data.draw(st.integers(1, 8))):
                der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
            certificate.text = base64.b64encode(bytes(der[: data.draw(st.integers(0, len(der)))] if data.draw(
                st.booleans()) else der)).decode()
    elif mutation == "huge_text":
        target.text = data.draw(st.sampled_from(("A", "<", "\u2028"))) * data.draw(st.integers(1000, 300_000))


def mutate_bytes(data: st.DataObject, document: bytes) -> bytes:
    mutation = data.draw(st.sampled_from(("none", "truncate", "insert", "prefix")))
    if mutation == "truncate":
        return document[: data.draw(st.integers(0, len(document)))]
    if mutation == "insert":
        at = data.draw(st.integers(0, len(document)))
        return document[:at] + data.draw(st.binary(max_size=16)) + document[at:]
    if mutation == "prefix":
        return data.draw(st.sampled_from(ENTITY_PREFIXES)) + document.removeprefix(b"<?xml version='1.0' encoding='utf-8'?>")
    return document


@fuzz
@given(st.binary(max_size=4096))
def test_random_bytes_are_parsed_or_refused_with_a_reason(document: bytes):
    parse(document)


@fuzz
@given(elements())
def test_random_xml_is_parsed_or_refused_with_a_reason(root: ET.Element):
    parse(ET.tostring(root))


@fuzz
@given(st.sampled_from(sorted(VENDORS)), st.data())
def test_mutated_vendor_metadata_is_parsed_or_refused_with_a_reason(vendor: str, data: st.DataObject):
    ET.register_namespace("md", saml.MD)
    ET.register_namespace("ds", saml.DS)
    root = ET.fromstring(VENDORS[vendor])
    for _ in range(data.draw(st.integers(1, 4))):
        mutate_tree(data, root)
    parse(mutate_bytes(data, ET.tostring(root, encoding="utf-8", xml_declaration=True)))


@fuzz
@given(st.text(max_size=2000))
def test_pasted_text_is_parsed_or_refused_with_a_reason(text: str):
    outcome = bounded(lambda: saml.pasted_metadata(text))
    if isinstance(outcome, bytes):
        parse(outcome)


@fuzz
@given(st.text(max_size=3000) | st.binary(max_size=1500).map(lambda der: base64.b64encode(der).decode()))
def test_certificate_text_is_parsed_or_refused_with_a_reason(text: str):
    bounded(lambda: saml.parse_certificate(text, "saml.certificates.0"))


@fuzz
@given(st.data())
def test_corrupted_certificate_der_is_parsed_or_refused_with_a_reason(data: st.DataObject):
    der = bytearray(GOOD_DER)
    for _ in range(data.draw(st.integers(1, 6))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    pem_body = base64.encodebytes(bytes(der)).decode()
    text = data.draw(st.sampled_from((pem_body, f"-----BEGIN CERTIFICATE-----\n{pem_body}-----END CERTIFICATE-----\n")))
    bounded(lambda: saml.parse_entered_certificates([text], NOW))


# OIDC: the discovery document and the typed fields are checked by pure functions, fuzzed alike.
ISSUER = "https://idp.example.com"
DISCOVERY: dict[str, Any] = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks",
    "userinfo_endpoint": f"{ISSUER}/userinfo",
    "response_types_supported": ["code", "id_token"],
    "scopes_supported": ["openid", "email", "profile"],
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@fuzz
@given(st.binary(max_size=2048) | json_values.map(lambda value: json.dumps(value).encode()))
def test_random_discovery_documents_are_checked_or_refused(document: bytes):
    bounded(lambda: oidc.parse_discovery(document, issuer=ISSUER, scopes=("openid",), allow_http=False))


@fuzz
@given(st.dictionaries(st.sampled_from(sorted(DISCOVERY)), json_values | st.text(max_size=3000), max_size=4),
       st.lists(st.sampled_from(sorted(DISCOVERY)), max_size=3), st.booleans())
def test_mutated_discovery_documents_are_checked_or_refused(changes: dict[str, Any], dropped: list[str], allow_http: bool):
    document = {name: value for name, value in {**DISCOVERY, **changes}.items() if name not in dropped}
    bounded(lambda: oidc.parse_discovery(json.dumps(document).encode(), issuer=ISSUER, scopes=("openid", "email"),
                                         allow_http=allow_http))


@fuzz
@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300),
       st.lists(st.text(max_size=40), max_size=25), st.booleans())
def test_typed_oidc_fields_are_checked_or_refused(issuer: str, client_id: str, secret: str, scopes: list[str],
                                                  allow_http: bool):
    bounded(lambda: oidc.check_issuer(issuer, allow_http=allow_http))
    bounded(lambda: oidc.check_client_id(client_id))
    bounded(lambda: oidc.check_client_secret(secret))
    bounded(lambda: oidc.check_scopes(scopes))


def test_expired_only_metadata_stays_a_clear_refusal():
    """The one vendor case the mutations cannot reach by themselves: every certificate expired."""
    outcome = parse(vendor_metadata("okta", expired_certificate()).encode(), record=False)
    assert isinstance(outcome, ConnectionProblem) and outcome.code == "certificate_expired"
