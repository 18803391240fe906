"""Kafka stops: the API, redemption and the portal keep working, and every committed change is
published once Kafka is back (transactional outbox in Postgres, Lua-queued outbox in Redis)."""
import asyncio
from urllib.parse import urlsplit

import httpx
import pytest

from portico_events import TOPIC_CONNECTIONS, TOPIC_LINKS, TOPIC_SESSIONS
from shared.settings import Settings
from tests.factories import magic_link, shareable_link
from tests.fixtures.identity_providers import make_certificate, pem
from tests.integration.kafka_tap import KafkaTap
from tests.integration.stack import is_ours, run_script


async def events_of(settings: Settings, topic: str, organization_id: str, count: int) -> list[str]:
    """Types of the organization's distinct events, in order. Delivery is at-least-once: a batch sent
    while Kafka was away can arrive twice, with the same event ids (consumers deduplicate by id)."""
    async with KafkaTap(settings.kafka_bootstrap_servers, topic, from_beginning=True) as tap:
        found = await tap.wait_for(lambda e: e.subject == organization_id, count=count, timeout_s=60)
    distinct = {event.id: event.type for event in found}
    return list(distinct.values())


async def test_changes_made_while_kafka_is_down_are_published_when_it_returns(
    api: httpx.AsyncClient, proxy_url: str, settings: Settings
):
    if not is_ours("kafka"):
        pytest.skip("Kafka was not started by deploy/local; the test stops only what we started")
    stopped = run_script("kafka.sh", "stop")
    assert stopped.returncode == 0, stopped.stderr
    try:
        created = await api.post("/api/v1/organizations", json={"display_name": "Outage Ltd."})
        assert created.status_code == 201, created.text
        org_id = created.json()["organization"]["id"]
        magic = (await magic_link(api, org_id))
        shareable = (await shareable_link(api, org_id))
        async with httpx.AsyncClient(base_url=proxy_url, timeout=20) as browser:
            assert (await browser.get(urlsplit(magic["location"]).path)).status_code == 303
            csrf = (await browser.get("/portal/api/session")).json()["session"]["csrf_token"]
            body = {"type": "saml", "provider": "okta", "saml": {
                "idp_entity_id": "http://www.okta.com/outage", "sso_url": "https://acme.okta.com/app/sso/saml",
                "certificates": [pem(make_certificate())]}}
            connection = await browser.post("/portal/api/connections", json=body, headers={"X-CSRF-Token": csrf})
            assert connection.status_code == 201, connection.text
        assert (await api.delete(f"/api/v1/organizations/{org_id}/portal_links/{shareable['id']}")).status_code == 204
    finally:
        started = run_script("kafka.sh", "start")
        assert started.returncode == 0, started.stderr

    links, sessions, connections = await asyncio.gather(
        events_of(settings, TOPIC_LINKS, org_id, 4),
        events_of(settings, TOPIC_SESSIONS, org_id, 2),
        events_of(settings, TOPIC_CONNECTIONS, org_id, 1),
    )
    assert links == [
        "portico.organization.created",
        "portico.portal_link.issued",
        "portico.portal_link.issued",
        "portico.portal_link.revoked",
    ]
    assert sorted(sessions) == ["portico.portal_link.redeemed", "portico.portal_session.started"]
    assert connections[0] == "portico.connection.created"
