from datetime import UTC, datetime, timedelta

import pytest

from link_issuer.accounts.api_keys import BOOTSTRAP_KEY_ID, ApiKeyVerifier
from link_issuer.domain import (
    check_redirect_url,
    link_expire_time,
    normalize_origin,
    split_api_key,
)
from portal_session.domain import cookie_policy, derived_event_id
from shared.errors import DomainError

NOW = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=UTC)


def test_magic_links_live_five_minutes():
    assert link_expire_time("magic", NOW, None) == NOW.replace(microsecond=0) + timedelta(minutes=5)


def test_shareable_links_default_to_seven_days_and_honour_the_request():
    assert link_expire_time("shareable", NOW, None) - NOW.replace(microsecond=0) == timedelta(days=7)
    assert link_expire_time("shareable", NOW, 3600) - NOW.replace(microsecond=0) == timedelta(hours=1)


@pytest.mark.parametrize("seconds", [0, -1, 604801])
def test_shareable_lifetime_is_bounded(seconds):
    with pytest.raises(DomainError) as error:
        link_expire_time("shareable", NOW, seconds)
    assert error.value.field == "expires_in_seconds"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("https://app.example.com:8443/", "https://app.example.com:8443"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("http://localhost:3000", "http://localhost:3000"),
    ],
)
def test_origins_are_normalized(value, expected):
    assert normalize_origin(value, "f") == expected


@pytest.mark.parametrize(
    "value", ["http://app.example.com", "https://app.example.com/path", "app.example.com", "https://a.example.com?x=1", "ftp://x"]
)
def test_bad_origins_are_refused(value):
    with pytest.raises(DomainError):
        normalize_origin(value, "allowed_frame_ancestors.0")


def test_redirects_only_to_allowed_origins():
    allowed = {"https://app.example.com"}
    assert check_redirect_url("https://app.example.com/sso/done?x=1", "success_url", allowed)
    for url in ["https://evil.example.com/", "javascript:alert(1)", "//app.example.com/x", "https://user:pw@app.example.com/"]:
        with pytest.raises(DomainError) as error:
            check_redirect_url(url, "success_url", allowed)
        assert error.value.field == "success_url"


def test_api_keys_split_into_id_and_secret():
    assert split_api_key("key_abc.s3cret") == ("key_abc", "s3cret")
    assert split_api_key("nope") is None
    assert split_api_key("key_abc.") is None
    assert split_api_key("other.s3cret") is None


async def test_bootstrap_key_is_accepted_and_nothing_else_without_a_database():
    verifier = ApiKeyVerifier(lambda: (_ for _ in ()).throw(AssertionError("no lookup expected")), "boot-strap-key")
    assert await verifier.key_id_for("boot-strap-key") == BOOTSTRAP_KEY_ID
    assert await verifier.key_id_for("boot-strap-keyX") is None
    assert await verifier.key_id_for("garbage") is None


def test_cookies_are_secure_and_embeddable_on_https_only():
    https = cookie_policy("https://sso.example.com")
    assert (https.secure, https.samesite, https.partitioned) == (True, "none", True)
    loopback = cookie_policy("http://127.0.0.1:8080")
    assert (loopback.secure, loopback.samesite) == (False, "lax")


def test_https_session_cookie_header_is_secure_samesite_none_and_partitioned():
    header = cookie_policy("https://sso.example.com").set_cookie_header("portico_session", "abc", max_age=60, path="/portal")
    assert header == "portico_session=abc; Max-Age=60; Path=/portal; HttpOnly; SameSite=None; Secure; Partitioned"
    loopback = cookie_policy("http://127.0.0.1:8080").set_cookie_header("portico_session", "abc", max_age=60, path="/portal")
    assert loopback == "portico_session=abc; Max-Age=60; Path=/portal; HttpOnly; SameSite=Lax"


def test_derived_event_ids_are_stable_and_distinct():
    assert derived_event_id("evt_a", "ses_1") == derived_event_id("evt_a", "ses_1")
    assert derived_event_id("evt_a", "ses_1") != derived_event_id("evt_a", "ses_2")
    assert derived_event_id("evt_a", "ses_1").startswith("evt_")
