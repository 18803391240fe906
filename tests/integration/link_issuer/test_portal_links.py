"""Portal links end to end through the proxy: issue, redeem, sessions, revocation, expiry, bad input."""
import asyncio
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from portico_events import TOPIC_LINKS, TOPIC_SESSIONS, CloudEvent, PortalLinkIssued
from shared.broker import publish_event
from shared.link_tokens import token_sha256
from shared.settings import Settings
from tests.factories import create_api_key, create_organization, magic_link, revoke_api_key, shareable_link
from tests.integration.kafka_tap import KafkaTap
from tests.integration.polling import eventually

JSON = {"Accept": "application/json"}


def link_path(link: dict) -> str:
    return urlsplit(link["location"]).path


async def open_link(base_url: str, link: dict) -> httpx.Response:
    """A fresh browser opening the link: no cookies, redirects not followed."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
        return await browser.get(link_path(link), headers=JSON)


async def session_of(base_url: str, redemption: httpx.Response) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, cookies=redemption.cookies) as browser:
        return await browser.get("/portal/api/session")


async def test_organization_is_created_and_read_back(api: httpx.AsyncClient):
    org_id = await create_organization(api, external_id=f"ext-{time.time_ns()}", allowed_frame_ancestors=["https://app.example.com/"])
    response = await api.get(f"/api/v1/organizations/{org_id}")
    assert response.status_code == 200
    organization = response.json()["organization"]
    assert organization["display_name"] == "Acme Corp"
    assert organization["allowed_frame_ancestors"] == ["https://app.example.com"]


async def test_magic_link_redeems_at_once_and_opens_a_session_for_its_organization(api: httpx.AsyncClient, proxy_url: str):
    org_id = await create_organization(api)
    link = await magic_link(api, org_id)
    assert link["kind"] == "magic" and link["id"].startswith("lnk_")
    expire = datetime.fromisoformat(link["expire_time"])
    assert timedelta(minutes=4, seconds=50) < expire - datetime.now(UTC) <= timedelta(minutes=5)

    redemption = await open_link(proxy_url, link)
    assert redemption.status_code == 303
    assert redemption.headers["location"] == "/portal/"
    cookie = redemption.headers["set-cookie"].lower()
    assert "httponly" in cookie and "path=/portal" in cookie

    session = await session_of(proxy_url, redemption)
    assert session.status_code == 200
    body = session.json()["session"]
    assert body["organization"]["id"] == org_id
    assert body["link"] == {"id": link["id"], "kind": "magic"}
    assert body["csrf_token"]


async def test_generate_then_redeem_immediately_a_thousand_times(api: httpx.AsyncClient, proxy_url: str):
    org_id = await create_organization(api)
    failures = []
    async with httpx.AsyncClient(base_url=proxy_url, timeout=10) as browser:
        for _ in range(1000):
            link = await magic_link(api, org_id)
            browser.cookies.clear()
            response = await browser.get(link_path(link), headers=JSON)
            if response.status_code != 303:
                failures.append(response.text)
    assert failures == []


async def test_magic_link_redeems_once_under_concurrency(api: httpx.AsyncClient, proxy_url: str):
    link = await magic_link(api, await create_organization(api))
    async with httpx.AsyncClient(base_url=proxy_url, timeout=20, limits=httpx.Limits(max_connections=100)) as browser:
        responses = await asyncio.gather(*(browser.get(link_path(link), headers=JSON) for _ in range(100)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(303) == 1
    assert statuses.count(410) == 99
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 410} == {"link_used"}


async def test_replayed_issued_event_does_not_rearm_a_used_link(
    api: httpx.AsyncClient, proxy_url: str, kafka: KafkaBroker, redis_client: Redis
):
    org_id = await create_organization(api)
    link = await magic_link(api, org_id)
    assert (await open_link(proxy_url, link)).status_code == 303
    token = link_path(link).rsplit("/", 1)[1]
    replay = CloudEvent.wrap(
        PortalLinkIssued(
            organization_id=org_id,
            link_id=link["id"],
            kind="magic",
            token_sha256=token_sha256(token),
            expire_time=datetime.fromisoformat(link["expire_time"]),
        ),
        source="/portico/tests",
        time=datetime.now(UTC),
    )
    await publish_event(kafka, replay)
    # A later link of the same organization shares the partition, so once it is applied the replay was too.
    marker = await magic_link(api, org_id)
    applied = await eventually(lambda: redis_client.exists(f"portico:ps:link:{marker['id']}"), bool)
    assert applied
    response = await open_link(proxy_url, link)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "link_used"


async def test_shareable_link_reuse_then_revocation_ends_its_sessions_within_a_second(
    api: httpx.AsyncClient, proxy_url: str
):
    org_id = await create_organization(api)
    link = await shareable_link(api, org_id)
    expire = datetime.fromisoformat(link["expire_time"])
    assert timedelta(days=6, hours=23, minutes=59) < expire - datetime.now(UTC) <= timedelta(days=7)
    first, second = await open_link(proxy_url, link), await open_link(proxy_url, link)
    assert (first.status_code, second.status_code) == (303, 303)
    assert (await session_of(proxy_url, first)).status_code == 200

    assert (await api.delete(f"/api/v1/organizations/{org_id}/portal_links/{link['id']}")).status_code == 204
    revoked_at = time.monotonic()
    ended = await eventually(
        lambda: asyncio.gather(session_of(proxy_url, first), session_of(proxy_url, second)),
        lambda responses: all(r.status_code == 401 for r in responses),
        timeout_s=5,
    )
    assert time.monotonic() - revoked_at < 1.0
    assert all(r.status_code == 401 for r in ended)
    again = await open_link(proxy_url, link)
    assert again.status_code == 410 and again.json()["error"]["code"] == "link_revoked"
    listed = (await api.get(f"/api/v1/organizations/{org_id}/portal_links")).json()["links"]
    assert [(item["id"], item["revoked"]) for item in listed] == [(link["id"], True)]
    assert "location" not in listed[0]


async def test_revoking_twice_is_fine_and_unknown_link_is_404(api: httpx.AsyncClient):
    org_id = await create_organization(api)
    link = await shareable_link(api, org_id)
    path = f"/api/v1/organizations/{org_id}/portal_links/{link['id']}"
    assert (await api.delete(path)).status_code == 204
    assert (await api.delete(path)).status_code == 204
    missing = await api.delete(f"/api/v1/organizations/{org_id}/portal_links/lnk_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "link_not_found"


async def test_expires_in_seconds_is_honoured_for_links_and_their_sessions(api: httpx.AsyncClient, proxy_url: str):
    org_id = await create_organization(api)
    link = await shareable_link(api, org_id, expires_in_seconds=2)
    assert datetime.fromisoformat(link["expire_time"]) - datetime.now(UTC) <= timedelta(seconds=2)
    redemption = await open_link(proxy_url, link)
    assert redemption.status_code == 303
    await asyncio.sleep(2.2)
    assert (await session_of(proxy_url, redemption)).status_code == 401
    late = await open_link(proxy_url, link)
    assert late.status_code == 410 and late.json()["error"]["code"] == "link_expired"


async def test_completing_setup_ends_a_magic_session_and_needs_the_csrf_token(
    api: httpx.AsyncClient, proxy_url: str, settings: Settings
):
    org_id = await create_organization(api)
    link = await magic_link(api, org_id, success_url="http://127.0.0.1:8080/done")
    redemption = await open_link(proxy_url, link)
    async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_SESSIONS) as tap:
        async with httpx.AsyncClient(base_url=proxy_url, timeout=10, cookies=redemption.cookies) as browser:
            csrf = (await browser.get("/portal/api/session")).json()["session"]["csrf_token"]
            refused = await browser.post("/portal/api/setup/complete")
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
            done = await browser.post("/portal/api/setup/complete", headers={"X-CSRF-Token": csrf})
            assert done.json() == {"ended": True, "success_url": "http://127.0.0.1:8080/done"}
            assert (await browser.get("/portal/api/session")).status_code == 401
        ended = await tap.wait_for(lambda e: e.type == "portico.portal_session.ended" and e.data["link_id"] == link["id"])
    assert ended[0].data["reason"] == "setup_completed"


async def test_redemption_publishes_redeemed_and_started_events(api: httpx.AsyncClient, proxy_url: str, settings: Settings):
    org_id = await create_organization(api)
    async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_SESSIONS) as tap:
        link = await magic_link(api, org_id)
        await open_link(proxy_url, link)
        events = await tap.wait_for(lambda e: e.data.get("link_id") == link["id"], count=2)
    assert sorted(e.type for e in events) == ["portico.portal_link.redeemed", "portico.portal_session.started"]
    assert {e.subject for e in events} == {org_id}
    assert events[0].data["session_id"] == events[1].data["session_id"]


async def test_link_events_leave_through_the_outbox(api: httpx.AsyncClient, settings: Settings):
    async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_LINKS) as tap:
        org_id = await create_organization(api)
        link = await shareable_link(api, org_id)
        await api.delete(f"/api/v1/organizations/{org_id}/portal_links/{link['id']}")
        events = await tap.wait_for(lambda e: e.subject == org_id, count=3)
    assert [e.type for e in events] == [
        "portico.organization.created",
        "portico.portal_link.issued",
        "portico.portal_link.revoked",
    ]
    assert all(e.data["actor"]["kind"] == "api_key" for e in events)


@pytest.mark.parametrize(
    "path",
    ["/portal/l/not-a-token", "/portal/l/v1.e30.AAAA", "/portal/l/" + "x" * 600],
)
async def test_unknown_or_forged_links_get_a_410_page(proxy_url: str, path: str):
    async with httpx.AsyncClient(base_url=proxy_url) as browser:
        page = await browser.get(path)
        data = await browser.get(path, headers=JSON)
    assert page.status_code == 410 and "text/html" in page.headers["content-type"]
    assert "not valid" in page.text
    assert data.status_code == 410 and data.json()["error"]["code"] == "link_invalid"


async def test_failed_redemptions_are_rate_limited_per_client_address(settings: Settings):
    address = f"198.51.100.{time.time_ns() % 250 + 1}"
    portal = f"http://127.0.0.1:{settings.portal_session_port}"
    async with httpx.AsyncClient(base_url=portal, headers={"X-Forwarded-For": address, **JSON}) as browser:
        statuses = [(await browser.get(f"/portal/l/guess-{i}")).status_code for i in range(settings.redeem_failures_per_minute + 1)]
        other = await browser.get("/portal/l/guess", headers={"X-Forwarded-For": "198.51.100.251"})
    assert statuses[:-1] == [410] * settings.redeem_failures_per_minute
    assert statuses[-1] == 429
    assert other.status_code == 410


async def test_an_address_throttled_for_guessing_still_opens_the_links_it_was_given(
    api: httpx.AsyncClient, settings: Settings
):
    """Many people share one address (an office, a carrier's NAT): the limit counts failures, not valid links."""
    address = f"198.51.100.{time.time_ns() % 250 + 1}"
    portal = f"http://127.0.0.1:{settings.portal_session_port}"
    org_id = await create_organization(api)
    magic, shareable = await magic_link(api, org_id), await shareable_link(api, org_id)
    async with httpx.AsyncClient(base_url=portal, headers={"X-Forwarded-For": address, **JSON}) as browser:
        for i in range(settings.redeem_failures_per_minute):
            await browser.get(f"/portal/l/guess-{i}")
        guess = await browser.get("/portal/l/guess-again")
        opened = [await browser.get(link_path(magic)), await browser.get(link_path(shareable))]
        again = await browser.get(link_path(magic))
    assert guess.status_code == 429 and int(guess.headers["Retry-After"]) >= 1
    assert guess.json()["error"]["code"] == "too_many_attempts"
    assert [response.status_code for response in opened] == [303, 303]
    assert again.status_code == 410 and again.json()["error"]["code"] == "link_used"


async def test_management_api_requires_a_valid_key(proxy_url: str, api: httpx.AsyncClient, api_key: str):
    async with httpx.AsyncClient(base_url=proxy_url) as anonymous:
        missing = await anonymous.post("/api/v1/organizations", json={"display_name": "x"})
        wrong = await anonymous.post(
            "/api/v1/organizations", json={"display_name": "x"}, headers={"Authorization": f"Bearer {api_key}x"}
        )
        forged = await anonymous.get(
            "/api/v1/organizations/org_x", headers={"Authorization": "Bearer key_abc.def", "X-Portico-Actor": "api_key:key_abc"}
        )
    assert [missing.status_code, wrong.status_code, forged.status_code] == [401, 401, 401]
    assert missing.json()["error"]["code"] == "unauthorized"


async def test_revoked_api_key_stops_working(proxy_url: str, settings: Settings):
    key_id, key = await create_api_key(settings, "short-lived")
    async with httpx.AsyncClient(base_url=proxy_url, headers={"Authorization": f"Bearer {key}"}) as client:
        assert (await client.post("/api/v1/organizations", json={"display_name": "x"})).status_code == 201
        await revoke_api_key(settings, key_id)
        assert (await client.post("/api/v1/organizations", json={"display_name": "x"})).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "display_name"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "x" * 201}, "display_name"),
        ({"display_name": "x", "allowed_frame_ancestors": ["http://evil.example.com"]}, "allowed_frame_ancestors.0"),
        ({"display_name": "x", "allowed_frame_ancestors": ["https://a.example.com/path"]}, "allowed_frame_ancestors.0"),
        ({"display_name": "x", "colour": "red"}, "colour"),
    ],
)
async def test_bad_organization_bodies_name_the_field(api: httpx.AsyncClient, body: dict, field: str):
    response = await api.post("/api/v1/organizations", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "shareable", "expires_in_seconds": 604801}, "expires_in_seconds"),
        ({"kind": "shareable", "expires_in_seconds": 0}, "expires_in_seconds"),
        ({"kind": "shareable", "expires_in_seconds": 10**30}, "expires_in_seconds"),
        ({"kind": "shareable", "expires_in_seconds": "soon"}, "expires_in_seconds"),
        ({"kind": "forever"}, "kind"),
        ({"kind": "shareable", "return_url": "https://evil.example.net/phish"}, "return_url"),
        ({"kind": "shareable", "return_url": "https://app.example.com:99999/back"}, "return_url"),
        ({"kind": "shareable", "success_url": "https://[::1/done"}, "success_url"),
        ({"kind": "shareable", "success_url": "javascript:alert(1)"}, "success_url"),
    ],
)
async def test_bad_link_requests_name_the_field(api: httpx.AsyncClient, body: dict, field: str):
    org_id = await create_organization(api)
    response = await api.post(f"/api/v1/organizations/{org_id}/portal_links", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert (await api.get(f"/api/v1/organizations/{org_id}/portal_links")).json()["links"] == []


async def test_unknown_organization_is_404(api: httpx.AsyncClient):
    for response in await asyncio.gather(
        api.get("/api/v1/organizations/org_missing"),
        api.put("/api/v1/organizations/org_missing/portal_links"),
        api.post("/api/v1/organizations/org_missing/portal_links", json={"kind": "shareable"}),
        api.get("/api/v1/organizations/org_missing/portal_links"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "organization_not_found"


async def test_oversized_and_malformed_bodies_are_4xx_json(api: httpx.AsyncClient):
    huge = await api.post(
        "/api/v1/organizations", content=b"{" + b" " * (3 * 1024 * 1024) + b"}", headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "body_too_large"
    broken = await api.post("/api/v1/organizations", content=b'{"display_name": ', headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "malformed_json"


async def test_a_browser_whose_user_agent_is_not_ascii_redeems_and_reads_connections(api: httpx.AsyncClient, proxy_url: str):
    """Header bytes outside ASCII (Latin-1 as HTTP allows) are passed on to the services behind, not a 500."""
    link = await magic_link(api, await create_organization(api))
    agent = "Mozilla/5.0 (X11; Linux) Navigateur-é".encode("latin-1")
    async with httpx.AsyncClient(base_url=proxy_url, timeout=10, headers={"User-Agent": agent}) as browser:
        redeemed = await browser.get(link_path(link), headers=JSON)
        assert redeemed.status_code == 303
        connections = await browser.get("/portal/api/connections")
    assert connections.status_code == 200 and connections.json() == {"connections": []}
