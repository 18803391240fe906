"""Sign-in rules without servers: registered redirect URIs compared exactly, the app's redirect, codes as hashes."""
import hashlib

import pytest

from connection_config.sign_in.domain import (
    SignInRequestInvalid,
    app_redirect,
    check_redirect_uri,
    check_state,
    code_hash,
    error_params,
    registered_redirect_uris,
)
from connection_config.sso.errors import SignInError

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
