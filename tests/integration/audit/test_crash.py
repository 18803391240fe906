"""A consumer killed mid-batch (SIGKILL, no goodbye) and started again loses and duplicates nothing.

The consumer runs the audit service's own handler in a process this test starts and kills, on a
topic and consumer group of its own, so the running audit service is left alone.
"""
import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from audit import store
from audit.verification import verify_log
from portico_events import CloudEvent, ConnectionViewed
from shared.ids import new_id
from shared.settings import Settings
from tests.integration.kafka_tap import throwaway_topic
from tests.integration.polling import eventually
from tests.integration.stack import ROOT

EVENTS = 30_000
ORGANIZATIONS = 12
CONSUMER_LIFETIME_S = 120  # the child exits by itself even if nobody kills it


def run_consumer(topic: str, group_id: str) -> None:
    """The child process: the audit handler on `topic`, appending to the real log as the writer role."""
    from audit.app import writer_database_url
    from audit.handlers import register_handlers
    from shared.consumers import Consumers
    from shared.db import create_pool

    async def main() -> None:
        settings = Settings()
        pool = await create_pool(writer_database_url(settings), max_size=2)
        consumers = Consumers(settings, "audit-crash-test")
        register_handlers(consumers, lambda: pool, topics=(topic,), group_id=group_id)
        consumers.start()
        print("consuming", flush=True)
        await asyncio.sleep(CONSUMER_LIFETIME_S)

    asyncio.run(main())


def start_consumer(topic: str, group_id: str) -> subprocess.Popen[str]:
    code = f"from tests.integration.audit.test_crash import run_consumer; run_consumer({topic!r}, {group_id!r})"
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=os.environ.copy())


def kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
async def crash_topic(settings: Settings) -> AsyncIterator[str]:
    async with throwaway_topic(settings, "audit-crash-test", partitions=3) as topic:
        yield topic


async def recorded(audit_db: asyncpg.Pool, organizations: list[str]) -> int:
    return await audit_db.fetchval("SELECT count(*) FROM audit_log WHERE organization_id = ANY($1::text[])",
                                   organizations)


async def test_consumer_killed_mid_batch_loses_and_duplicates_nothing(
    settings: Settings, audit_db: asyncpg.Pool, crash_topic: str
):
    organizations = [new_id("org") for _ in range(ORGANIZATIONS)]
    events = [
        CloudEvent.wrap(ConnectionViewed(organization_id=organizations[i % ORGANIZATIONS]), source="/portico/tests",
                        time=datetime.now(UTC))
        for i in range(EVENTS)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send(crash_topic, event.to_bytes(), key=event.subject.encode())
        await producer.flush()
    finally:
        await producer.stop()

    group_id = f"audit-crash-test-{new_id('g')}"
    kills = 0
    for kill_at in (EVENTS // 10, EVENTS // 2):  # two crashes at different points, then a clean run
        consumer = start_consumer(crash_topic, group_id)
        try:
            progress = await eventually(lambda: recorded(audit_db, organizations), lambda n, at=kill_at: n >= at, 60)
            assert progress >= kill_at, "the consumer never got going"
        finally:
            kill(consumer)
        kills += progress < EVENTS

    consumer = start_consumer(crash_topic, group_id)
    try:
        total = await eventually(lambda: recorded(audit_db, organizations), lambda n: n >= EVENTS, 90)
        await asyncio.sleep(1)  # a duplicate would land now
        total = await recorded(audit_db, organizations)
    finally:
        kill(consumer)

    assert kills >= 1, "every crash came after the last event: nothing was tested"
    assert total == EVENTS
    distinct = await audit_db.fetchval(
        "SELECT count(DISTINCT event_id) FROM audit_log WHERE organization_id = ANY($1::text[])", organizations)
    assert distinct == EVENTS
    gaps = await audit_db.fetchval(
        """SELECT count(*) FROM (
               SELECT organization_sequence - lag(organization_sequence, 1, 0::bigint)
                      OVER (PARTITION BY organization_id ORDER BY sequence) AS step
               FROM audit_log WHERE organization_id = ANY($1::text[])) s WHERE step <> 1""",
        organizations)
    assert gaps == 0
    for organization in organizations:
        async with store.snapshot(audit_db, 10) as conn:
            report = await verify_log(conn, organization, trusted_public_key=None)
        assert report.ok, report.first_broken
        assert report.checked == EVENTS // ORGANIZATIONS
