"""The console is a process of its own: with link-issuer stopped an operator still signs in, lists and creates
organizations while the management API answers 503, and what the console did is published once link-issuer
is back (the console writes its events into link-issuer's outbox; link-issuer's relay publishes them)."""
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from portico_events import TOPIC_LINKS, CloudEvent
from shared.settings import Settings
from tests.integration.console import signed_in
from tests.integration.kafka_tap import KafkaTap
from tests.integration.polling import eventually
from tests.integration.stack import is_ours, run_script, services_ready


@pytest.fixture
async def link_issuer_stopped(settings: Settings) -> AsyncIterator[None]:
    """link-issuer stopped for the test's body, started again (and ready) whatever happens."""
    if not all(is_ours(name) for name in ("link-issuer", "console", "nginx")):
        pytest.skip("needs link-issuer, the console and the proxy started by deploy/local")
    stopped = run_script("services.sh", "stop", "link-issuer", timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    try:
        yield
    finally:
        started = run_script("services.sh", "start", "link-issuer", timeout=60)
        assert started.returncode == 0, started.stderr
        assert await eventually(lambda: services_ready([settings.link_issuer_port]), bool, timeout_s=60)


async def queued_for(link_issuer_db: asyncpg.Pool, organization_id: str) -> list[str]:
    """The types of the events in link-issuer's outbox about this organization."""
    rows = await link_issuer_db.fetch("SELECT payload FROM outbox ORDER BY position")
    events = [CloudEvent.from_bytes(row["payload"]) for row in rows]
    return [event.type for event in events if event.subject == organization_id]


async def test_the_console_serves_while_link_issuer_is_down_and_its_events_are_published_once_it_is_back(
    settings: Settings, api: httpx.AsyncClient, link_issuer_db: asyncpg.Pool, link_issuer_stopped: None
):
    async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_LINKS) as links:
        operator = await signed_in(settings, "support")  # signs in and sets a password, link-issuer down
        try:
            listed = await operator.client.get("/console/api/organizations")
            assert listed.status_code == 200, listed.text
            created = await operator.client.post("/console/api/organizations", json={"display_name": "While Away Ltd."})
            assert created.status_code == 201, created.text
            organization_id = created.json()["organization"]["id"]
            shown = await operator.client.get(f"/console/api/organizations/{organization_id}")
            assert shown.status_code == 200, shown.text
        finally:
            await operator.client.aclose()
        management = await api.get("/api/v1/organizations")
        assert management.status_code == 503, management.text
        assert management.json()["error"]["code"] == "service_unavailable"
        # Nobody publishes while link-issuer is down: the event waits in its outbox.
        assert await queued_for(link_issuer_db, organization_id) == ["portico.organization.created"]

        started = run_script("services.sh", "start", "link-issuer", timeout=60)
        assert started.returncode == 0, started.stderr
        published = await links.wait_for(
            lambda event: event.subject == organization_id and event.type == "portico.organization.created",
            timeout_s=30,
        )
    assert len(published) >= 1, [event.type for event in links.seen]
    assert await eventually(lambda: queued_for(link_issuer_db, organization_id), lambda queued: queued == [], timeout_s=10) == []
