"""The operator console's page shells without servers: who may open which page, where everyone else is sent,
what the navigation offers each role, the security headers, and escaping."""
import json
import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from link_issuer.console.pages import install_console_pages
from portico_events import CATALOGUE
from shared.errors import install_error_handlers

ORG = "org_0123456789abcdefghjkmnpqrs"
PAGES = {
    "/console/organizations": {"admin", "support"},
    f"/console/organizations/{ORG}": {"admin", "support"},
    "/console/audit": {"admin", "auditor"},
    "/console/api-keys": {"admin"},
    "/console/operators": {"admin"},
}
NAV_LABELS = {"support": ["Organizations"], "auditor": ["Audit log"],
              "admin": ["Organizations", "Audit log", "API keys", "Operators"]}


@dataclass
class FakeOperator:
    id: str
    email: str
    role: str
    must_change_password: bool = False


def client_for(operator: FakeOperator | None) -> TestClient:
    async def current_operator(_: Request) -> FakeOperator | None:
        return operator

    app = FastAPI()
    install_error_handlers(app)
    install_console_pages(app, current_operator)
    return TestClient(app, follow_redirects=False)


def operator(role: str, **fields: object) -> FakeOperator:
    return FakeOperator(id="opr_1", email=f"{role}@example.com", role=role, **fields)  # type: ignore[arg-type]


def config_of(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="console-config">(.*?)</script>', html, re.S)
    assert found, "every page hands console.js its configuration"
    return json.loads(found.group(1))


def nav_labels(html: str) -> list[str]:
    nav = re.search(r'<nav class="console-nav".*?</nav>', html, re.S)
    return re.findall(r">([^<>]+)</a>", nav.group(0)) if nav else []


@pytest.mark.parametrize("path", sorted(PAGES))
@pytest.mark.parametrize("role", ["admin", "support", "auditor"])
def test_every_page_opens_for_the_roles_that_may_and_is_403_for_the_others(path: str, role: str):
    response = client_for(operator(role)).get(path)
    if role in PAGES[path]:
        assert response.status_code == 200
        assert config_of(response.text)["operator"]["role"] == role
    else:
        assert response.status_code == 403
        assert "You cannot open this page" in response.text
        assert config_of(response.text)["page"] == "forbidden"
    assert nav_labels(response.text) == NAV_LABELS[role]


@pytest.mark.parametrize("path", sorted(PAGES) + ["/console/password"])
def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in_and_back_afterwards(path: str):
    response = client_for(None).get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/sign-in?next={path}"


@pytest.mark.parametrize("path", sorted(PAGES) + ["/console/"])
def test_an_operator_whose_password_must_change_is_sent_to_the_password_page(path: str):
    response = client_for(operator("admin", must_change_password=True)).get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/password"


def test_the_forced_password_page_shows_no_navigation_but_a_sign_out():
    response = client_for(operator("support", must_change_password=True)).get("/console/password")
    assert response.status_code == 200
    assert "Choose your password" in response.text and "One-time password" in response.text
    assert nav_labels(response.text) == []
    assert 'id="sign-out"' in response.text
    assert config_of(response.text)["forced"] is True


@pytest.mark.parametrize(("role", "home"), [
    ("support", "/console/organizations"), ("auditor", "/console/audit"), ("admin", "/console/organizations"),
])
def test_the_console_root_opens_the_first_page_the_role_may_see(role: str, home: str):
    for root in ("/console", "/console/"):
        response = client_for(operator(role)).get(root)
        assert response.status_code == 303 and response.headers["location"] == home


def test_the_root_and_sign_in_page_for_visitors_and_signed_in_operators():
    assert client_for(None).get("/console/").headers["location"] == "/console/sign-in"
    sign_in = client_for(None).get("/console/sign-in")
    assert sign_in.status_code == 200
    assert '<label for="email">Email</label>' in sign_in.text and 'autocomplete="current-password"' in sign_in.text
    assert config_of(sign_in.text)["operator"] is None
    assert 'id="sign-out"' not in sign_in.text
    signed_in = client_for(operator("auditor")).get("/console/sign-in")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console/"


def test_only_link_writers_get_the_link_buttons_and_an_auditor_gets_no_organization_page():
    support = client_for(operator("support")).get(f"/console/organizations/{ORG}").text
    assert "Generate magic link" in support and "Generate shareable link" in support
    assert '<option value="604800" selected>7 days</option>' in support
    assert config_of(support)["organization_id"] == ORG
    auditor = client_for(operator("auditor")).get(f"/console/organizations/{ORG}")
    assert auditor.status_code == 403 and "Generate" not in auditor.text


def test_an_organization_path_that_is_not_an_organization_id_is_404_after_the_role_check():
    assert client_for(operator("support")).get("/console/organizations/nope").status_code == 404
    assert client_for(operator("auditor")).get("/console/organizations/nope").status_code == 403
    assert client_for(None).get("/console/organizations/nope").status_code == 303


def test_pages_forbid_framing_inline_code_and_caching():
    response = client_for(operator("admin")).get("/console/audit")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy  # nothing from another origin
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert all('src="/console/assets/' in attrs or 'type="application/json"' in attrs for attrs in scripts)
    assert " style=" not in response.text and "<style" not in response.text


def test_assets_are_served_with_a_content_hash_and_the_shared_base_stylesheet_comes_first():
    client = client_for(operator("admin"))
    html = client.get("/console/operators").text
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert [re.sub(r"\?v=[0-9a-f]{12}$", "", href) for href in stylesheets] == [
        "/console/assets/base.css", "/console/assets/console.css"]
    for name, media_type in (("base.css", "text/css"), ("console.css", "text/css"),
                             ("console.js", "text/javascript"), ("favicon.svg", "image/svg+xml")):
        response = client.get(f"/console/assets/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(media_type)
        assert "immutable" in response.headers["cache-control"]
    assert "--accent" in client.get("/console/assets/base.css").text
    missing = client.get("/console/assets/../app.py")
    assert missing.status_code == 404
    assert client.get("/console/assets/secrets.env").json()["error"]["code"] == "not_found"


def test_the_audit_type_filter_offers_every_event_type_of_the_catalogue():
    html = client_for(operator("auditor")).get("/console/audit").text
    offered = re.findall(r'<option value="([^"]+)"></option>', html)
    assert offered == list(CATALOGUE) and "portico.operator.sign_in_failed" in offered


def test_what_the_operator_typed_is_escaped_everywhere():
    hostile = FakeOperator(id="opr_1", email='<script>alert("x")</script>@example.com', role="admin")
    html = client_for(hostile).get("/console/operators").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;@example.com" in html
    assert config_of(html)["operator"]["email"] == hostile.email  # the JSON block cannot be closed early


def test_every_labelled_input_has_its_label_and_error_slot():
    for path in ("/console/sign-in", "/console/password", "/console/organizations", "/console/audit",
                 "/console/api-keys", "/console/operators"):
        who = None if path == "/console/sign-in" else operator("admin")
        html = client_for(who).get(path).text
        for input_id in re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', html):
            assert f'<label for="{input_id}">' in html, f"{path}: #{input_id} has no label"
