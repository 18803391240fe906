"""The portal's pages without servers: guides, Markdown rendering, embedding rules, branding, escaping."""
import json
import re

import pytest

from connection_config.model import PROVIDERS
from portal_session.branding import InvalidBranding, brand_from_settings, ink_on_white, readable_text_on
from portal_session.connection_views import configure_page, guide_page, review_page
from portal_session.domain import GONE_LINKS
from portal_session.embedding import redeem_step
from portal_session.guides import GuideError, load_guides, parse_guide, render_markdown
from portal_session.views import PageContext, Site, changed_by, gone_page, welcome_page
from shared.pages import config_block, frame_ancestors, page_headers
from shared.settings import Settings

SAML_VALUES = {
    "acs_url": "https://sso.example.com/sso/saml/conn_1/acs",
    "entity_id": "https://sso.example.com/sso/saml/conn_1",
    "metadata_url": "https://sso.example.com/sso/saml/conn_1/metadata",
}
OIDC_VALUES = {"redirect_uri": "https://sso.example.com/sso/oidc/conn_1/callback"}
GUIDES = load_guides()


def site(**branding: str) -> Site:
    brand = brand_from_settings(Settings(**branding))
    assets = {name: f"/portal/static/{name}" for name in ("base.css", "portal.css", "portal.js", "favicon.svg", "brand.css")}
    return Site(brand, assets)


def saml_connection(**fields: object) -> dict:
    return {
        "id": "conn_0123456789abcdefghijklmnop", "organization_id": "org_1", "type": "saml", "provider": "okta",
        "status": "draft", "version": 1, "updated_at": "2026-11-26T01:00:00Z", "updated_by": "portal_session:ses_1",
        "warnings": [], "sp": SAML_VALUES, "saml": {"certificates": []}, **fields,
    }


# Guides --------------------------------------------------------------------------------------


def test_every_provider_connection_config_knows_has_a_guide_for_each_of_its_protocols():
    for protocol, providers in PROVIDERS.items():
        for provider in providers:
            assert protocol in GUIDES[provider].protocols, f"docs/guides/{provider}.md lacks a {protocol} section"
    for guide in GUIDES.values():
        for protocol in guide.protocols:
            assert guide.provider in PROVIDERS[protocol], f"connection-config refuses {protocol} for {guide.provider}"


def test_guides_are_listed_in_their_display_order_with_the_generic_ones_last():
    assert list(GUIDES)[:3] == ["okta", "entra_id", "google_workspace"]
    assert list(GUIDES)[-2:] == ["generic_saml", "generic_oidc"]


@pytest.mark.parametrize("provider", sorted(GUIDES))
def test_each_guide_renders_its_steps_with_the_connection_values_to_copy(provider: str):
    guide = GUIDES[provider]
    for protocol in guide.protocols:
        values = SAML_VALUES if protocol == "saml" else OIDC_VALUES
        rendered = render_markdown(guide.markdown_for(protocol), values, "Acme")
        assert "<ol" in rendered, "a guide is a list of steps"
        assert "{{" not in rendered
        needed = ("acs_url", "entity_id") if protocol == "saml" else ("redirect_uri",)
        for name in needed:
            assert values[name] in rendered, f"{provider} {protocol} never shows {name}"
        assert "button" in rendered and 'class="copy"' in rendered


def test_markdown_is_escaped_and_only_https_links_become_links():
    rendered = render_markdown(
        "<script>alert(1)</script> **bold** `a<b` [ok](https://example.com/x) [bad](javascript:alert(1))", {}, "P"
    )
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert "<strong>bold</strong>" in rendered and "<code>a&lt;b</code>" in rendered
    assert '<a href="https://example.com/x" target="_blank" rel="noopener noreferrer">ok</a>' in rendered
    assert "javascript:" in rendered and 'href="javascript' not in rendered


def test_markdown_lists_keep_their_numbering_and_nested_items():
    rendered = render_markdown("1. one\n   - nested\n2. two\n   continued\n\n```\ncode {{product}}\n```\n\n3. three", {}, "Acme")
    assert "<ol><li>one<ul><li>nested</li></ul></li><li>two continued</li></ol>" in rendered
    assert "code Acme" in rendered
    assert '<ol start="3"><li>three</li></ol>' in rendered


def test_a_placeholder_without_a_value_is_an_error():
    with pytest.raises(GuideError):
        render_markdown("Paste {{acs_url}}", OIDC_VALUES, "Acme")


def test_a_guide_needs_front_matter_and_matching_protocol_sections():
    with pytest.raises(GuideError):
        parse_guide("x", "## SAML\n1. step")
    with pytest.raises(GuideError):
        parse_guide("x", "---\nname: X\nprotocols: saml, oidc\n---\n## SAML\n1. step")
    guide = parse_guide("x", "---\nname: X\nprotocols: oidc\n---\nIntro\n## OpenID Connect\n1. step\n## Help\nMore")
    assert guide.markdown_for("oidc") == "Intro\n\n1. step\n\n## Help\nMore"


# Embedding -----------------------------------------------------------------------------------


def test_frame_ancestors_are_the_organizations_origins_or_none():
    assert frame_ancestors([]) == "frame-ancestors 'none'"
    assert frame_ancestors(["https://app.example.com", "https://admin.example.com"]) == (
        "frame-ancestors https://app.example.com https://admin.example.com"
    )


def test_page_headers_allow_only_portico_assets_and_deny_framing_without_ancestors():
    refused = page_headers([])
    assert refused["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in refused["Content-Security-Policy"]
    assert "'unsafe-inline'" not in refused["Content-Security-Policy"]
    allowed = page_headers(["https://app.example.com"], image_origin="https://cdn.vendor.example")
    assert "X-Frame-Options" not in allowed
    assert "img-src 'self' data: https://cdn.vendor.example" in allowed["Content-Security-Policy"]
    assert allowed["Content-Security-Policy"].endswith("frame-ancestors https://app.example.com")
    assert allowed["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("dest", "site_", "cookie", "probe", "step"),
    [
        ("document", "none", False, False, "redeem"),  # a tab: spend the link at once
        (None, None, False, False, "redeem"),  # a client without fetch metadata
        ("iframe", "same-site", False, False, "redeem"),  # same-site frames keep cookies
        ("iframe", "cross-site", False, False, "check_cookies"),
        ("iframe", "cross-site", True, False, "redeem"),
        ("iframe", "same-origin", True, True, "redeem"),  # the reload after the check: the cookie came back
        ("iframe", "same-origin", False, True, "cookies_blocked"),
    ],
)
def test_a_cross_site_frame_proves_it_keeps_cookies_before_a_link_is_spent(dest, site_, cookie, probe, step):
    assert redeem_step(fetch_dest=dest, fetch_site=site_, has_probe_cookie=cookie, probe_requested=probe) == step


# Branding ------------------------------------------------------------------------------------


def test_branding_is_checked_and_text_on_the_accent_stays_readable():
    brand = brand_from_settings(Settings(portal_product_name="Acme HR", portal_accent_color="#FC0",
                                         portal_logo_url="https://cdn.acme.example/logo.svg"))
    assert (brand.accent, brand.accent_text, brand.accent_ink) == ("#ffcc00", "#111827", "#111827")
    assert brand.logo_origin == "https://cdn.acme.example"
    assert readable_text_on("#3b5bdb") == "#ffffff" and ink_on_white("#3b5bdb") == "#3b5bdb"
    assert brand_from_settings(Settings(portal_logo_url="/portal/static/favicon.svg")).logo_origin is None
    for bad in ({"portal_accent_color": "blue"}, {"portal_logo_url": "http://cdn.example/logo.png"},
                {"portal_logo_url": "javascript:alert(1)"}, {"portal_product_name": " "}):
        with pytest.raises(InvalidBranding):
            brand_from_settings(Settings(**bad))


# Views ---------------------------------------------------------------------------------------


def test_pages_escape_what_organizations_and_idps_supply():
    context = PageContext(organization_id="org_1", organization_name='<img src=x onerror="alert(1)">')
    page = welcome_page(site(), context, [], GUIDES, "ses_1")
    assert "<img src=x" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    hostile = saml_connection(status="configured", saml={
        "idp_entity_id": "<script>x</script>", "sso_url": "https://idp/\"><b>", "certificates": [],
    })
    review = review_page(site(), PageContext(), GUIDES["okta"], hostile)
    assert "<script>x" not in review and '"><b>' not in review


def test_the_page_script_reads_its_data_from_a_json_block_that_cannot_be_closed_early():
    block = config_block("portico-config", {"name": "</script><script>alert(1)</script>"})
    assert block.count("</script>") == 1
    data = re.search(r">(.*)</script>", block).group(1)  # type: ignore[union-attr]
    assert json.loads(data) == {"name": "</script><script>alert(1)</script>"}


def test_the_guide_page_shows_each_value_with_a_copy_button_and_the_sp_metadata_download():
    page = guide_page(site(portal_product_name="Acme HR"), PageContext(), GUIDES["okta"], saml_connection())
    for label in ("ACS URL", "SP entity ID", "SP metadata URL"):
        assert f'aria-label="Copy {label}"' in page
    assert 'href="/sso/saml/conn_0123456789abcdefghijklmnop/metadata" download=' in page
    assert "<strong>Acme HR</strong>" in page


def test_the_form_labels_every_field_and_ties_its_error_to_it():
    page = configure_page(site(), PageContext(), GUIDES["okta"], saml_connection())
    for field_id in ("saml-metadata-url", "saml-metadata-file", "saml-idp-entity-id", "saml-sso-url", "saml-certificates"):
        assert f'<label for="{field_id}">' in page
        assert f'aria-describedby="{field_id}-error' in page and f'id="{field_id}-error"' in page


def test_gone_pages_say_what_happened_and_what_to_do():
    page = gone_page(site(portal_product_name="Acme HR"), PageContext(), GONE_LINKS["invalid"])
    assert "This setup link is not valid" in page and "Acme HR" in page and "can send a new one" in page


def test_who_changed_a_connection_is_said_in_words():
    assert changed_by("portal_session:ses_1", "ses_1", "Acme") == "you, in this session"
    assert changed_by("portal_session:ses_2", "ses_1", "Acme") == "an administrator, through a setup link"
    assert changed_by("api_key:key_1", "ses_1", "Acme") == "Acme, through its API"
