"""The wiring, for real: every service answers through the proxy, and events cross Kafka between services."""
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker

from portico_events import CloudEvent, OrganizationCreated, PortalLinkRevoked
from shared.broker import publish_event
from shared.ids import new_id
from shared.outbox import enqueue_events, execute_with_events
from tests.integration.polling import eventually
from tests.integration.stack import SERVICES


async def wait_for_audit_rows(audit_db: asyncpg.Pool, event_id: str, timeout_s: float = 15) -> int:
    return await eventually(
        lambda: audit_db.fetchval("SELECT count(*) FROM audit_log WHERE event_id = $1", event_id),
        lambda count: count >= 1,
        timeout_s,
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_is_ready_through_the_proxy(http: httpx.AsyncClient, service: str):
    response = await http.get(f"/internal/health/{service}/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["service"] == service
    assert set(body["checks"].values()) == {"up"}


async def test_unknown_path_on_the_proxy_is_a_json_404(http: httpx.AsyncClient):
    response = await http.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_event_committed_in_link_issuer_reaches_the_audit_log_through_kafka(
    link_issuer_db: asyncpg.Pool, audit_db: asyncpg.Pool
):
    organization_id = new_id("org")
    event = CloudEvent.wrap(
        OrganizationCreated(organization_id=organization_id, display_name="Smoke Test Inc."),
        source="/portico/tests",
        time=datetime.now(UTC),
    )
    async with link_issuer_db.acquire() as conn, conn.transaction():
        await enqueue_events(conn, [event])

    assert await wait_for_audit_rows(audit_db, event.id) == 1
    row = await audit_db.fetchrow("SELECT * FROM audit_log WHERE event_id = $1", event.id)
    assert row["organization_id"] == organization_id
    assert row["event_type"] == "portico.organization.created"
    # The relay deletes what Kafka acknowledged.
    left_in_outbox = await eventually(
        lambda: link_issuer_db.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1", event.id),
        lambda count: count == 0,
    )
    assert left_in_outbox == 0


async def test_rolled_back_change_publishes_nothing(link_issuer_db: asyncpg.Pool, audit_db: asyncpg.Pool):
    event = CloudEvent.wrap(
        OrganizationCreated(organization_id=new_id("org"), display_name="Never Was"),
        source="/portico/tests",
        time=datetime.now(UTC),
    )
    with pytest.raises(RuntimeError):
        async with link_issuer_db.acquire() as conn, conn.transaction():
            await enqueue_events(conn, [event])
            raise RuntimeError("the change failed after its event was written")

    assert await wait_for_audit_rows(audit_db, event.id, timeout_s=1.5) == 0


async def test_a_change_and_its_event_in_one_statement_land_together_or_not_at_all(
    link_issuer_db: asyncpg.Pool, audit_db: asyncpg.Pool
):
    insert = "INSERT INTO organizations (id, display_name, created_by) VALUES ($1, $2, $3)"
    kept = new_id("org")
    published = CloudEvent.wrap(OrganizationCreated(organization_id=kept, display_name="One Statement Co"),
                                source="/portico/tests", time=datetime.now(UTC))
    await execute_with_events(link_issuer_db, insert, (kept, "One Statement Co", "tests"), [published])
    assert await wait_for_audit_rows(audit_db, published.id) == 1

    refused = CloudEvent.wrap(OrganizationCreated(organization_id=kept, display_name="Duplicate"),
                              source="/portico/tests", time=datetime.now(UTC))
    with pytest.raises(asyncpg.UniqueViolationError):  # the same id again: the change fails
        await execute_with_events(link_issuer_db, insert, (kept, "Duplicate", "tests"), [refused])
    assert await link_issuer_db.fetchval("SELECT count(*) FROM outbox WHERE event_id = $1", refused.id) == 0
    assert await wait_for_audit_rows(audit_db, refused.id, timeout_s=1.5) == 0


async def test_redelivered_event_is_recorded_once(kafka: KafkaBroker, audit_db: asyncpg.Pool):
    event = CloudEvent.wrap(
        PortalLinkRevoked(organization_id=new_id("org"), link_id=new_id("lnk")),
        source="/portico/tests",
        time=datetime.now(UTC),
    )
    for _ in range(3):
        await publish_event(kafka, event)
    marker = CloudEvent.wrap(
        PortalLinkRevoked(organization_id=event.subject, link_id=new_id("lnk")),
        source="/portico/tests",
        time=datetime.now(UTC),
    )
    await publish_event(kafka, marker)  # same key, so it lands after the three copies

    assert await wait_for_audit_rows(audit_db, marker.id) == 1
    assert await audit_db.fetchval("SELECT count(*) FROM audit_log WHERE event_id = $1", event.id) == 1


async def test_malformed_message_is_skipped_without_blocking_the_partition(kafka: KafkaBroker, audit_db: asyncpg.Pool):
    organization_id = new_id("org")
    await kafka.publish(b"{not a cloud event", topic="portico.links", key=organization_id.encode())
    after = CloudEvent.wrap(
        OrganizationCreated(organization_id=organization_id, display_name="After Garbage"),
        source="/portico/tests",
        time=datetime.now(UTC),
    )
    await publish_event(kafka, after)
    assert await wait_for_audit_rows(audit_db, after.id) == 1
