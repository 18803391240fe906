"""The result page of a connection test without servers: what succeeded, what failed and who fixes it."""
import re

from portal_session.connection_views import manage_page, review_page
from portal_session.result_views import result_page
from portal_session.views import PageContext
from tests.unit.portal_session.test_pages import GUIDES, saml_connection, site

TEST_ID = "tst_0123456789abcdefghijklmnop"


def test_a_succeeded_test_shows_the_user_every_raw_attribute_escaped_and_how_it_was_verified():
    test = {
        "id": TEST_ID, "status": "succeeded", "connection_version": 3,
        "profile": {"idp_id": "u-42", "email": "ada@globex.example", "first_name": "Ada", "last_name": "Lovelace",
                    "groups": ["engineering", "admins"],
                    "raw_attributes": {"department": "<script>alert(1)</script>", "roles": ["a", "b"]}},
        "details": {"certificate_fingerprint_sha256": "AB:CD", "signature_algorithm": "rsa-sha256",
                    "digest_algorithm": "sha256", "skew_seconds": 1},
    }
    page = result_page(site(), PageContext(), GUIDES["okta"], saml_connection(), test)
    assert "The test sign-in worked" in page
    for shown in ("u-42", "ada@globex.example", "Ada", "Lovelace", "engineering", "admins", "department", "AB:CD",
                  "rsa-sha256", "sha256", "Every attribute received (2)"):
        assert shown in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="/portal/connections/conn_0123456789abcdefghijklmnop/guide"' in page


def test_a_failed_test_says_the_code_the_sentence_who_fixes_it_and_the_expected_and_actual_values():
    test = {
        "id": TEST_ID, "status": "failed", "connection_version": 3,
        "error": {"code": "certificate_mismatch", "message": "The response was signed with another certificate.",
                  "fix_in": "identity_provider", "expected": ["AB:CD", "12:34"], "actual": "EF:01"},
    }
    page = result_page(site(), PageContext(), GUIDES["okta"], saml_connection(), test)
    assert "The test sign-in failed" in page and "certificate_mismatch" in page
    assert "The response was signed with another certificate." in page
    assert "Your identity provider&#x27;s admin, in Okta" in page
    assert "AB:CD" in page and "12:34" in page and "EF:01" in page and "[&#x27;" not in page

    ours = {**test, "error": {"code": "weak_algorithm", "message": "x", "fix_in": "portico"}}
    page = result_page(site(portal_product_name="Acme HR"), PageContext(), GUIDES["okta"], saml_connection(), ours)
    assert "settings in Acme HR: edit its details (or ask the Acme HR team, the SaaS vendor)" in page
    assert "Expected" not in page


def test_a_pending_test_waits_and_tells_the_page_script_to_refresh():
    context = PageContext()
    page = result_page(site(), context, GUIDES["okta"], saml_connection(), {"id": TEST_ID, "status": "pending"})
    assert "Waiting for Okta" in page and '"status":"pending"' in page


def test_the_review_page_ends_in_a_test_step_and_offers_enable_only_after_a_test():
    configured = review_page(site(), PageContext(), GUIDES["okta"], saml_connection(status="configured"))
    assert 'id="test-connection"' in configured and "Test connection" in configured
    assert re.search(r'<button[^>]*id="enable-connection"[^>]*disabled', configured)
    draft = review_page(site(), PageContext(), GUIDES["okta"], saml_connection())
    assert 'id="test-connection"' not in draft
    enabled = review_page(site(), PageContext(), GUIDES["okta"], saml_connection(status="enabled"))
    assert 'id="test-connection"' not in enabled and 'id="enable-connection"' not in enabled
    # Details that passed a test before (then disabled): Enable is on, the test step still there.
    tested = review_page(site(), PageContext(), GUIDES["okta"], {**saml_connection(status="disabled"), "tested": True})
    assert not re.search(r'<button[^>]*id="enable-connection"[^>]*disabled', tested)
    assert 'id="test-connection"' in tested and "These details have passed a test." in tested


def test_the_manage_page_sends_enabling_through_the_test_step():
    for status in ("configured", "disabled"):
        page = manage_page(site(), PageContext(), GUIDES["okta"], saml_connection(status=status), "ses_1")
        assert 'href="/portal/connections/conn_0123456789abcdefghijklmnop/review">Test and enable</a>' in page
        assert 'id="enable-connection"' not in page
