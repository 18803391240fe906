"""OIDC settings: issuer, discovery document checks, scopes and client credentials, each error naming its field."""
import json

import pytest

from connection_config import oidc
from connection_config.model import ConnectionProblem
from tests.fixtures.identity_providers import discovery_document

ISSUER = "https://acme.okta.com"


def discover(document: dict[str, object] | bytes, *, issuer: str = ISSUER, allow_http: bool = False) -> oidc.Discovery:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return oidc.parse_discovery(raw, issuer=issuer, scopes=("openid", "email", "profile"), allow_http=allow_http)


def problem_of(call) -> ConnectionProblem:
    with pytest.raises(ConnectionProblem) as caught:
        call()
    return caught.value


def test_discovery_yields_the_endpoints():
    found = discover(discovery_document(ISSUER))
    assert found.authorization_endpoint == f"{ISSUER}/oauth2/v1/authorize"
    assert found.token_endpoint == f"{ISSUER}/oauth2/v1/token"
    assert found.jwks_uri == f"{ISSUER}/oauth2/v1/keys"
    assert found.warnings == ()


def test_issuer_mismatch_is_refused_with_a_hint_for_a_trailing_slash():
    problem = problem_of(lambda: discover(discovery_document(ISSUER + "/"), issuer=ISSUER))
    assert (problem.code, problem.field) == ("issuer_mismatch", "oidc.issuer")
    assert f"Use exactly '{ISSUER}/'" in problem.message
    assert problem_of(lambda: discover(discovery_document("https://evil.example"))).code == "issuer_mismatch"


@pytest.mark.parametrize("missing", ["authorization_endpoint", "token_endpoint", "jwks_uri"])
def test_discovery_without_a_required_endpoint_is_refused(missing):
    document = discovery_document(ISSUER)
    del document[missing]
    problem = problem_of(lambda: discover(document))
    assert problem.code == "discovery_incomplete"
    assert missing in problem.message


def test_plain_http_endpoint_is_refused_for_a_public_issuer():
    document = discovery_document(ISSUER, token_endpoint="http://acme.okta.com/token")
    assert problem_of(lambda: discover(document)).code == "https_required"


def test_non_json_and_non_object_documents_are_refused():
    assert problem_of(lambda: discover(b"<html>")).code == "discovery_not_json"
    assert problem_of(lambda: discover(b"[1, 2]")).code == "discovery_invalid"


def test_implicit_only_provider_is_refused():
    document = discovery_document(ISSUER, response_types_supported=["id_token"])
    assert problem_of(lambda: discover(document)).code == "code_flow_unsupported"


def test_unadvertised_scope_is_a_warning():
    document = discovery_document(ISSUER, scopes_supported=["openid", "email"])
    assert [w.code for w in discover(document).warnings] == ["scope_not_advertised"]


@pytest.mark.parametrize(("issuer", "code"), [
    ("http://acme.okta.com", "https_required"),
    ("acme.okta.com", "url_invalid"),
    ("https://acme.okta.com/?tenant=1", "issuer_invalid"),
    ("https://user:pw@acme.okta.com", "url_has_credentials"),
    ("", "url_required"),
])
def test_bad_issuer_is_refused(issuer, code):
    problem = problem_of(lambda: oidc.check_issuer(issuer, allow_http=False))
    assert (problem.code, problem.field) == (code, "oidc.issuer")


def test_scopes_need_openid_and_valid_tokens():
    assert oidc.check_scopes(["openid", "email", "openid"]) == ("openid", "email")
    assert problem_of(lambda: oidc.check_scopes(["email"])).code == "openid_scope_required"
    problem = problem_of(lambda: oidc.check_scopes(["openid", "bad scope"]))
    assert problem.field == "oidc.scopes.1"


def test_client_secret_problems_never_echo_the_secret():
    secret = "  hunter2-super-secret  "
    problem = problem_of(lambda: oidc.check_client_secret(secret))
    assert problem.field == "oidc.client_secret"
    assert "hunter2" not in problem.message


def test_redirect_uri_is_per_connection():
    assert oidc.redirect_uri("http://127.0.0.1:8080/", "conn_1") == "http://127.0.0.1:8080/sso/oidc/conn_1/callback"
