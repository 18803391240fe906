"""portico_client against the running stack: every method, sync and async, and how Portico's errors map."""
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import pytest

from portico_client import (
    AsyncPortico,
    AuthenticationError,
    ConflictError,
    Connection,
    InvalidRequestError,
    NotFoundError,
    Portico,
    RateLimitError,
    VersionMismatchError,
    VersionRequiredError,
    error_from_response,
)
from portico_events import OrganizationCreated
from shared.settings import Settings
from tests.fixtures.identity_providers import make_certificate, pem

ROOT = Path(__file__).resolve().parents[3]
OIDC_SECRET = "client-secret-that-must-never-come-back"
T = TypeVar("T")


@pytest.fixture
def portico(proxy_url: str, api_key: str) -> Iterator[Portico]:
    with Portico(proxy_url, api_key) as client:
        yield client


@pytest.fixture
async def async_portico(proxy_url: str, api_key: str) -> AsyncIterator[AsyncPortico]:
    async with AsyncPortico(proxy_url, api_key) as client:
        yield client


def wait_for(read: Callable[[], T], done: Callable[[T], bool], timeout_s: float = 15) -> T:
    deadline = time.monotonic() + timeout_s
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


@contextmanager
def portal(location: str) -> Iterator[tuple[httpx.Client, str]]:
    """A browser holding a portal session opened from `location`, and its CSRF token."""
    parts = urlsplit(location)
    with httpx.Client(base_url=f"{parts.scheme}://{parts.netloc}", timeout=15) as browser:
        assert browser.get(parts.path).status_code == 303
        yield browser, browser.get("/portal/api/session").json()["session"]["csrf_token"]


def saml_connection() -> dict[str, object]:
    return {"type": "saml", "provider": "okta", "saml": {
        "idp_entity_id": "http://www.okta.com/exk-client", "sso_url": "https://acme.okta.com/app/sso/saml",
        "certificates": [pem(make_certificate())],
    }}


def test_sync_client_creates_an_organization_issues_lists_and_revokes_links(portico: Portico, proxy_url: str):
    external_id = f"client-{uuid.uuid4().hex}"
    organization = portico.organizations.create(
        "Client Co", external_id=external_id, allowed_frame_ancestors=["https://app.example.com"]
    )
    assert organization.id.startswith("org_") and organization.external_id == external_id
    assert organization.allowed_frame_ancestors == ["https://app.example.com"]
    assert portico.organizations.get(organization.id) == organization

    magic = portico.organizations.generate_portal_link(organization.id, return_url="https://app.example.com/settings")
    assert magic.kind == "magic" and magic.location.startswith(f"{proxy_url}/portal/l/")
    assert timedelta(minutes=4) < magic.expire_time - datetime.now(UTC) <= timedelta(minutes=5, seconds=5)
    shareable = portico.organizations.create_shareable_link(organization.id, expires_in_seconds=3600)
    assert shareable.kind == "shareable"
    assert timedelta(minutes=59) < shareable.expire_time - datetime.now(UTC) <= timedelta(hours=1, seconds=5)

    listed = {link.id: link for link in portico.organizations.list_links(organization.id)}
    assert set(listed) == {magic.id, shareable.id}
    assert not any(link.revoked for link in listed.values())
    assert not hasattr(listed[magic.id], "location")

    with httpx.Client(timeout=10) as browser:
        assert browser.get(magic.location).status_code == 303
        portico.organizations.revoke_link(organization.id, shareable.id)
        portico.organizations.revoke_link(organization.id, shareable.id)  # again: still fine
        refused = wait_for(lambda: browser.get(shareable.location, headers={"Accept": "application/json"}),
                           lambda answer: answer.status_code == 410, timeout_s=5)  # takes effect within 1 s
        assert refused.json()["error"]["code"] == "link_revoked"
    assert {link.id: link.revoked for link in portico.organizations.list_links(organization.id)}[shareable.id]
    states = wait_for(lambda: {link.id: link.state for link in portico.organizations.list_links(organization.id)},
                      lambda seen: seen[magic.id] == "used", timeout_s=10)  # the redemption's event, consumed
    assert states == {magic.id: "used", shareable.id: "revoked"}


async def test_async_client_does_the_same_with_await(async_portico: AsyncPortico, proxy_url: str):
    organization = await async_portico.organizations.create("Async Co")
    assert await async_portico.organizations.get(organization.id) == organization
    magic = await async_portico.organizations.generate_portal_link(organization.id)
    shareable = await async_portico.organizations.create_shareable_link(organization.id)
    assert timedelta(days=6, hours=23) < shareable.expire_time - datetime.now(UTC) <= timedelta(days=7, seconds=5)
    async with httpx.AsyncClient(timeout=10) as browser:
        assert (await browser.get(magic.location)).status_code == 303
    await async_portico.organizations.revoke_link(organization.id, shareable.id)
    links = {link.id: link.revoked for link in await async_portico.organizations.list_links(organization.id)}
    assert links == {magic.id: False, shareable.id: True}


async def test_connections_are_listed_typed_and_without_secrets(portico: Portico, async_portico: AsyncPortico):
    organization = portico.organizations.create("Connections Co")
    with portal(portico.organizations.generate_portal_link(organization.id).location) as (browser, csrf):
        saml = browser.post("/portal/api/connections", json=saml_connection(), headers={"X-CSRF-Token": csrf})
        oidc = browser.post("/portal/api/connections", headers={"X-CSRF-Token": csrf}, json={
            "type": "oidc", "provider": "generic_oidc", "oidc": {"client_id": "portico-app", "client_secret": OIDC_SECRET},
        })
    assert saml.status_code == 201 and oidc.status_code == 201, (saml.text, oidc.text)

    connections = {c.type: c for c in portico.connections.list(organization.id)}
    assert connections["saml"].id == saml.json()["connection"]["id"]
    assert connections["saml"].status == "configured" and connections["saml"].version == 1
    assert connections["saml"].sp is not None and connections["saml"].sp.acs_url.startswith("http")  # type: ignore[union-attr]
    assert connections["saml"].saml is not None and len(connections["saml"].saml.certificates) == 1
    assert connections["oidc"].status == "draft" and connections["oidc"].oidc is not None
    assert connections["oidc"].oidc.client_secret_set and connections["oidc"].oidc.client_id == "portico-app"
    assert any(w.field == "oidc.issuer" for w in connections["oidc"].warnings)
    assert OIDC_SECRET not in json.dumps([c.model_dump(mode="json") for c in connections.values()])
    assert await async_portico.connections.list(organization.id) == list(portico.connections.list(organization.id))
    assert all(isinstance(c, Connection) for c in connections.values())


def audited_organization(portico: Portico, links: int) -> tuple[str, int]:
    """An organization with 1 + `links` events, once the audit log holds them all."""
    organization = portico.organizations.create("Audited Co")
    for _ in range(links):
        portico.organizations.generate_portal_link(organization.id)
    expected = 1 + links
    seen = wait_for(lambda: portico.audit.list_events(organization_id=organization.id, limit=1000).events,
                    lambda events: len(events) >= expected)
    assert len(seen) == expected, "the audit service did not record every event in time"
    return organization.id, expected


async def test_audit_events_are_an_iterator_that_follows_cursors(portico: Portico, async_portico: AsyncPortico):
    organization_id, count = audited_organization(portico, links=4)

    first = portico.audit.list_events(organization_id=organization_id, limit=2)
    assert len(first.events) == 2 and first.next_cursor
    events = list(portico.audit.events(organization_id=organization_id, page_size=2))
    assert [e.organization_sequence for e in events] == list(range(1, count + 1))
    assert all(a.sequence < b.sequence for a, b in zip(events, events[1:], strict=False))
    assert events[0].type == "portico.organization.created"
    assert isinstance(events[0].typed_data(), OrganizationCreated)
    assert all(e.prev_hash == p.hash for p, e in zip(events, events[1:], strict=False))

    issued = list(portico.audit.events(organization_id=organization_id, type="portico.portal_link.issued"))
    assert len(issued) == count - 1
    assert [e.event_id async for e in async_portico.audit.events(organization_id=organization_id, page_size=3)] == [
        e.event_id for e in events
    ]
    since = [e.event_id for e in portico.audit.events(organization_id=organization_id, since=events[1].time)]
    assert since == [e.event_id for e in events if e.time >= events[1].time]


async def test_audit_export_writes_complete_files_and_verify_checks_the_chain(
    portico: Portico, async_portico: AsyncPortico, tmp_path: Path
):
    organization_id, count = audited_organization(portico, links=2)

    jsonl = portico.audit.export(tmp_path / "audit.jsonl", organization_id=organization_id)
    assert (jsonl.records, jsonl.format, jsonl.path) == (count, "jsonl", tmp_path / "audit.jsonl")
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["organization_id"] for line in lines] == [organization_id] * count
    assert jsonl.bytes == (tmp_path / "audit.jsonl").stat().st_size
    assert not list(tmp_path.glob("*.partial"))

    csv = await async_portico.audit.export(tmp_path / "audit.csv", format="csv", organization_id=organization_id)
    assert csv.records == count
    assert (tmp_path / "audit.csv").read_text().splitlines()[0].startswith("sequence,")

    buffer = io.BytesIO()
    assert portico.audit.export(buffer, organization_id=organization_id).path is None
    assert buffer.getvalue().decode().splitlines() == lines

    report = portico.audit.verify(organization_id=organization_id)
    assert report.ok and report.checked == count and report.first_broken is None
    assert (await async_portico.audit.verify(organization_id=organization_id)).ok


def test_errors_carry_status_code_field_and_message(portico: Portico, proxy_url: str):
    with Portico(proxy_url, "key_nope.wrong") as stranger, pytest.raises(AuthenticationError) as unauthorized:
        stranger.organizations.get("org_x")
    assert (unauthorized.value.status, unauthorized.value.code) == (401, "unauthorized")

    with pytest.raises(NotFoundError) as missing:
        portico.organizations.get("org_doesnotexist")
    assert (missing.value.status, missing.value.code, missing.value.field) == (404, "organization_not_found", "organization_id")
    assert "org_doesnotexist" in missing.value.message and missing.value.request_id

    with pytest.raises(InvalidRequestError) as invalid:
        portico.organizations.create(" ")
    assert (invalid.value.status, invalid.value.field) == (422, "display_name")

    organization = portico.organizations.create("Errors Co", external_id=f"errors-{uuid.uuid4().hex}")
    with pytest.raises(InvalidRequestError) as too_long:
        portico.organizations.create_shareable_link(organization.id, expires_in_seconds=604801)
    assert too_long.value.field == "expires_in_seconds"
    with pytest.raises(ConflictError):
        portico.organizations.create("Errors Co again", external_id=organization.external_id)
    with pytest.raises(NotFoundError) as no_link:
        portico.organizations.revoke_link(organization.id, "lnk_doesnotexist")
    assert no_link.value.code == "link_not_found"
    with pytest.raises(NotFoundError):
        portico.connections.list("org_doesnotexist")
    with pytest.raises(InvalidRequestError) as bad_cursor:
        portico.audit.list_events(cursor="not-a-cursor")
    assert bad_cursor.value.field == "cursor"


def test_version_answers_map_to_version_errors(portico: Portico):
    """412 and 428 come from the portal's PATCH (the management API has no write with versions yet)."""
    organization = portico.organizations.create("Versions Co")
    with portal(portico.organizations.generate_portal_link(organization.id).location) as (browser, csrf):
        created = browser.post("/portal/api/connections", json=saml_connection(), headers={"X-CSRF-Token": csrf})
        path = f"/portal/api/connections/{created.json()['connection']['id']}"
        change = {"saml": {"sso_url": "https://acme.okta.com/app/sso/saml2"}}
        assert browser.patch(path, json=change, headers={"X-CSRF-Token": csrf, "If-Match": '"1"'}).status_code == 200
        stale = browser.patch(path, json=change, headers={"X-CSRF-Token": csrf, "If-Match": '"1"'})
        unversioned = browser.patch(path, json=change, headers={"X-CSRF-Token": csrf})

    mismatch = error_from_response(stale)
    assert isinstance(mismatch, VersionMismatchError)
    assert (mismatch.status, mismatch.code, mismatch.current_version) == (412, "version_mismatch", 2)
    required = error_from_response(unversioned)
    assert isinstance(required, VersionRequiredError) and required.status == 428


def test_rate_limit_answer_maps_to_rate_limit_error_with_retry_after(settings: Settings):
    """429 comes from portal-session's limit on bad link tokens, from an address of this test's own."""
    address = f"198.51.100.{uuid.uuid4().int % 200 + 20}"
    with httpx.Client(base_url=f"http://127.0.0.1:{settings.portal_session_port}", timeout=10,
                      headers={"X-Forwarded-For": address, "Accept": "application/json"}) as browser:
        answers = [browser.get(f"/portal/l/guess-{i}") for i in range(settings.redeem_failures_per_minute + 1)]
    limited = error_from_response(answers[-1])
    assert isinstance(limited, RateLimitError)
    assert limited.status == 429 and limited.retry_after is not None and limited.retry_after > 0


def test_the_api_serves_the_committed_asyncapi_document(proxy_url: str):
    served = httpx.get(f"{proxy_url}/api/v1/asyncapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == json.loads((ROOT / "docs" / "asyncapi.json").read_text())
