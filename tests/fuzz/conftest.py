"""Fixtures of the API fuzz suite: its own organizations on the running stack, and a live portal session."""
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures.identity_providers import make_certificate, pem

SESSION_COOKIE = "portico_session"
SAML_FIELDS = {"type": "saml", "provider": "okta", "saml": {
    "idp_entity_id": "http://www.okta.com/exk-fuzz",
    "sso_url": "https://acme.okta.com/app/sso/saml",
    "certificates": [pem(make_certificate())],
}}


@dataclass(frozen=True)
class PortalSession:
    organization_id: str
    cookie: str
    csrf_token: str
    connection_id: str


@pytest.fixture(scope="session")
def fuzz_management_org(proxy_url: str, api_key: str) -> str:
    """The organization the management API fuzz may change; every other organization is left alone."""
    with httpx.Client(base_url=proxy_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}) as api:
        created = api.post("/api/v1/organizations", json={"display_name": "Fuzz: management API"})
        assert created.status_code == 201, created.text
        return str(created.json()["organization"]["id"])


@pytest.fixture(scope="session")
def fuzz_portal(proxy_url: str, api_key: str) -> PortalSession:
    """A session opened through a shareable link (so no fuzzed call can end it) of an organization of its own."""
    with httpx.Client(base_url=proxy_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}) as api:
        org_id = api.post("/api/v1/organizations", json={"display_name": "Fuzz: portal API"}).json()["organization"]["id"]
        link = api.post(f"/api/v1/organizations/{org_id}/portal_links", json={"kind": "shareable"})
        assert link.status_code == 201, link.text
        location = link.json()["link"]["location"]
    with httpx.Client(base_url=proxy_url, timeout=10) as browser:
        redeemed = browser.get(urlsplit(location).path)
        assert redeemed.status_code == 303, redeemed.text
        cookie = browser.cookies[SESSION_COOKIE]
        csrf = browser.get("/portal/api/session").json()["session"]["csrf_token"]
        created = browser.post("/portal/api/connections", headers={"X-CSRF-Token": csrf}, json=SAML_FIELDS)
        assert created.status_code == 201, created.text
        return PortalSession(org_id, cookie, csrf, created.json()["connection"]["id"])
