"""The request an attempt sends the browser with: the attempt travels as RelayState or state, what the answer
must match stays with the attempt, and the PKCE verifier only sealed (bound to the attempt)."""
import base64
import hashlib
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from connection_config.model import Certificate, Connection, ConnectionProblem, OidcSettings, SamlSettings, SealedSecret
from connection_config.outbound import OutboundPolicy
from connection_config.secretbox import Keyring, SecretUnavailable
from connection_config.sign_in.domain import ATTEMPT_LIFETIME, Attempt
from connection_config.sign_in.idp import VERIFIER_PURPOSE, IdentityProviders

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
KEYRING = Keyring.from_setting("k1:" + "ab" * 32)
PROVIDERS = IdentityProviders(keyring=KEYRING, policy=OutboundPolicy(), public_url="https://portico.example.com")
ATTEMPT_ID = "sgn_" + "a" * 26
CERTIFICATE = Certificate("-----BEGIN CERTIFICATE-----", "ab" * 32, "CN=idp", NOW, NOW)  # only its presence counts


def connection(kind: str) -> Connection:
    settings: dict[str, object] = (
        {"saml": SamlSettings(idp_entity_id="https://idp.example.org", sso_url="https://idp.example.org/sso",
                              certificates=(CERTIFICATE,))}
        if kind == "saml" else
        {"oidc": OidcSettings(issuer="https://idp.example.org", client_id="portico",
                              authorization_endpoint="https://idp.example.org/authorize?tenant=acme"),
         "client_secret": KEYRING.seal("s3cret", connection_id="conn_" + "c" * 26, purpose="oidc.client_secret")})
    return Connection(id="conn_" + "c" * 26, organization_id="org_1", type=kind, provider="keycloak",  # type: ignore[arg-type]
                      status="enabled", version=4, created_at=NOW, created_by="t", updated_at=NOW, updated_by="t",
                      **settings)  # type: ignore[arg-type]


def attempt(kind: str) -> Attempt:
    return Attempt(id=ATTEMPT_ID, organization_id="org_1", connection_id="conn_" + "c" * 26, connection_version=4,
                   connection_type=kind, kind="sign_in", status="pending", started_by="system",  # type: ignore[arg-type]
                   created_at=NOW, expires_at=NOW + ATTEMPT_LIFETIME, redirect_uri="https://app.example/cb")


def test_a_saml_request_carries_the_attempt_as_relay_state_and_keeps_its_id_with_the_attempt():
    pending, url = PROVIDERS.request(connection("saml"), attempt("saml"), NOW)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://idp.example.org/sso?") and query["RelayState"] == [ATTEMPT_ID]
    request = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    assert pending.saml_request_id and f'ID="{pending.saml_request_id}"' in request
    assert "https://portico.example.com/sso/saml/conn_" in request
    assert pending.oidc_nonce is None and pending.verifier_ciphertext is None


def test_an_oidc_request_uses_the_attempt_as_state_and_seals_the_verifier_to_it():
    pending, url = PROVIDERS.request(connection("oidc"), attempt("oidc"), NOW)
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    assert (query["tenant"], query["state"], query["nonce"]) == ("acme", ATTEMPT_ID, pending.oidc_nonce)
    assert query["redirect_uri"] == f"https://portico.example.com/sso/oidc/conn_{'c' * 26}/callback"
    assert pending.verifier_key_id == "k1" and pending.verifier_ciphertext is not None
    sealed = SealedSecret(pending.verifier_key_id, pending.verifier_ciphertext)
    verifier = KEYRING.open(sealed, connection_id=ATTEMPT_ID, purpose=VERIFIER_PURPOSE)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert (query["code_challenge"], query["code_challenge_method"]) == (challenge, "S256")
    assert verifier.encode() not in pending.verifier_ciphertext
    with pytest.raises(SecretUnavailable):  # bound to its attempt: copied to another, it does not open
        KEYRING.open(sealed, connection_id="sgn_" + "b" * 26, purpose=VERIFIER_PURPOSE)


def test_an_incomplete_connection_sends_nobody_to_an_identity_provider():
    incomplete = replace(connection("saml"), saml=SamlSettings(idp_entity_id="https://idp.example.org"))
    with pytest.raises(ConnectionProblem) as refused:
        PROVIDERS.request(incomplete, attempt("saml"), NOW)
    assert (refused.value.code, refused.value.status, refused.value.field) == ("connection_incomplete", 409, "saml.sso_url")
