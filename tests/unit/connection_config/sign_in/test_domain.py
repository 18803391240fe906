"""Sign-in rules without servers: registered redirect URIs compared exactly, the app's redirect, codes as hashes."""
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from connection_config.sign_in.domain import (
    ATTEMPT_LIFETIME,
    Attempt,
    SignInRequestInvalid,
    app_redirect,
    attempt_event,
    check_redirect_uri,
    check_state,
    code_hash,
    connection_test_view,
    error_params,
    registered_redirect_uris,
)
from connection_config.sso.errors import SignInError
from connection_config.sso.profile import Profile

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

REGISTERED = registered_redirect_uris(" https://app.example/callback , http://127.0.0.1:9/cb,")


def test_the_setting_lists_callbacks_comma_separated_and_trimmed():
    assert REGISTERED == frozenset({"https://app.example/callback", "http://127.0.0.1:9/cb"})
    assert registered_redirect_uris("") == frozenset()


@pytest.mark.parametrize("value", [
    "https://app.example/callback/", "https://APP.example/callback", "https://app.example/callback?x=1",
    "https://app.example.evil.test/callback", "//app.example/callback",
])
def test_a_redirect_uri_must_equal_a_registered_one_exactly(value):
    with pytest.raises(SignInRequestInvalid) as refused:
        check_redirect_uri(value, REGISTERED)
    assert (refused.value.code, refused.value.field, refused.value.status) == ("redirect_uri_not_allowed", "redirect_uri", 400)


def test_without_registered_callbacks_no_app_may_sign_in_and_the_message_says_what_to_set():
    with pytest.raises(SignInRequestInvalid, match="PORTICO_SSO_REDIRECT_URIS"):
        check_redirect_uri("https://app.example/callback", frozenset())
    with pytest.raises(SignInRequestInvalid) as missing:
        check_redirect_uri(None, REGISTERED)
    assert missing.value.code == "redirect_uri_required"
    assert check_redirect_uri("http://127.0.0.1:9/cb", REGISTERED) == "http://127.0.0.1:9/cb"


def test_state_is_passed_back_as_given_up_to_a_limit():
    assert check_state(None) is None and check_state("s" * 1024) == "s" * 1024
    with pytest.raises(SignInRequestInvalid):
        check_state("s" * 1025)


def test_the_app_redirect_keeps_the_callbacks_own_query_and_encodes_ours():
    url = app_redirect("https://app.example/cb?tenant=a", {"code": "c+/="}, "s &x")
    assert url == "https://app.example/cb?tenant=a&code=c%2B%2F%3D&state=s+%26x"
    assert app_redirect("https://app.example/cb", {"code": "c"}, None) == "https://app.example/cb?code=c"
    failed = error_params(SignInError("assertion_replayed"))
    assert failed["error"] == "assertion_replayed" and failed["error_description"]


def test_codes_are_kept_as_sha256_only():
    assert code_hash("abc") == hashlib.sha256(b"abc").digest()


def finished_attempt(kind: str, **outcome: object) -> Attempt:
    return Attempt(id=("sgn_" if kind == "sign_in" else "tst_") + "a" * 26, organization_id="org_1",
                   connection_id="conn_1", connection_version=3, connection_type="saml", kind=kind,  # type: ignore[arg-type]
                   status="succeeded" if "profile" in outcome else "failed",
                   started_by="portal_session:ses_1" if kind == "test" else "system",
                   created_at=NOW, expires_at=NOW + ATTEMPT_LIFETIME, finished_at=NOW + timedelta(seconds=2),
                   **outcome)  # type: ignore[arg-type]


PROFILE = Profile(id="prof_1", idp_id="ada@example.com", email="ada@example.com", first_name="Ada", last_name=None,
                  groups=("eng",), raw_attributes={"email": ["ada@example.com"]}, connection_id="conn_1",
                  connection_type="saml", organization_id="org_1")


@pytest.mark.parametrize(("kind", "succeeded", "event_type"), [
    ("sign_in", True, "portico.sso.signed_in"), ("sign_in", False, "portico.sso.sign_in_failed"),
    ("test", True, "portico.connection.test_succeeded"), ("test", False, "portico.connection.test_failed"),
])
def test_each_attempt_is_one_event_with_the_connection_version_and_timings_and_no_attribute(kind, succeeded, event_type):
    error = SignInError("audience_mismatch", expected="https://sp", actual="https://other")
    attempt = finished_attempt(kind)
    event = attempt_event(attempt, NOW + timedelta(seconds=2), 12, **({"profile": PROFILE} if succeeded else {"error": error}))
    assert (event.type, event.subject) == (event_type, "org_1")
    data = event.data
    assert (data["attempt_id"], data["connection_id"], data["version"]) == (attempt.id, "conn_1", 3)
    assert (data["duration_ms"], data["verify_ms"]) == (2000, 12)
    assert data["actor"]["kind"] == ("portal_session" if kind == "test" else "system")
    if succeeded:
        assert (data["subject"], data["email"]) == ("ada@example.com", "ada@example.com")
    else:
        assert (data["error_code"], data["fix_in"]) == ("audience_mismatch", "identity_provider")
    assert "raw_attributes" not in str(data) and "https://other" not in str(data)


def test_a_test_shows_its_profile_or_its_error_with_the_version_it_ran_on():
    error = {"code": "audience_mismatch", "message": "m", "fix_in": "identity_provider", "expected": "a", "actual": "b"}
    view = connection_test_view(finished_attempt("test", error=error))
    assert (view["status"], view["connection_version"], view["error"]) == ("failed", 3, error)
    assert "profile" not in view and view["finished_at"].endswith("Z")
    shown = connection_test_view(finished_attempt("test", profile=PROFILE.as_dict()))
    assert shown["status"] == "succeeded" and shown["profile"]["email"] == "ada@example.com" and "error" not in shown
