"""Baselines measured in the same run as the figures: the bare HTTP stack, Redis, Kafka and Postgres COPY alone.

Each is the floor its figure cannot beat on this machine, so figures are reported as ratios to them.
"""
import asyncio
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from audit.domain import chain_entries, entry_from_event
from audit.handlers import MAX_BATCH
from audit.store import COLUMNS
from bench.proxy_log import log_offset, proxy_times
from portico_events import CloudEvent
from shared.broker import FETCH_MAX_WAIT_MS, aiokafka_options
from shared.ids import new_id
from shared.redis_client import create_redis
from shared.settings import Settings

BARE_PATH = "/internal/health/{service}/healthz"


async def bare_endpoint(client: httpx.AsyncClient, service: str, n: int) -> tuple[list[float], list[float]]:
    """n sequential GETs of a service's /healthz through the proxy: (client-seen, proxy-measured) seconds."""
    run = uuid.uuid4().hex[:8]
    offset = log_offset()
    samples, ids = [], set()
    for i in range(n):
        request_id = f"bench-{run}-b{i}"
        start = time.perf_counter()
        response = await client.get(BARE_PATH.format(service=service), headers={"X-Request-ID": request_id})
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
        ids.add(request_id)
    return samples, list(proxy_times(ids, offset).values())


async def redis_ping(settings: Settings, n: int) -> list[float]:
    redis = create_redis(settings.redis_url)
    try:
        samples = []
        for _ in range(n):
            start = time.perf_counter()
            await redis.ping()
            samples.append(time.perf_counter() - start)
        return samples
    finally:
        await redis.aclose()


async def kafka(settings: Settings, round_trips: int, produce: int, payload: bytes) -> tuple[list[float], float]:
    """On a throwaway one-partition topic: produce→consume round trips (seconds, one at a time, with the
    services' producer settings: idempotent, acks=all, linger 2 ms) and the raw produce rate (messages/s,
    pipelined, with the audit benchmark's producer: large batches)."""
    topic = f"portico.bench.{new_id('t')}"
    options = aiokafka_options(settings)
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=10_000)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    producer = AIOKafkaProducer(**options, enable_idempotence=True, acks="all", linger_ms=2)
    bulk = AIOKafkaProducer(**options, enable_idempotence=True, acks="all", linger_ms=5, max_batch_size=256 * 1024)
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False, fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
    try:
        await producer.start()
        await bulk.start()
        await consumer.start()
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        for _ in range(20):  # warm-up: connections, metadata, the first fetch
            await producer.send_and_wait(topic, payload)
            await consumer.getone()
        samples = []
        for _ in range(round_trips):
            start = time.perf_counter()
            await producer.send(topic, payload)
            await consumer.getone()
            samples.append(time.perf_counter() - start)
        start = time.perf_counter()
        futures = [await bulk.send(topic, payload) for _ in range(produce)]
        await asyncio.gather(*futures)
        return samples, produce / (time.perf_counter() - start)
    finally:
        await consumer.stop()
        await bulk.stop()
        await producer.stop()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()


async def raw_copy(conn: asyncpg.Connection, events: list[CloudEvent]) -> float:
    """Events/s for plain COPY of the very rows audit would write (chain computed beforehand, untimed),
    into a table like audit_log without its indexes, in batches of the consumer's size."""
    rows = [tuple(getattr(r, c) for c in COLUMNS)
            for r in chain_entries([entry_from_event(e) for e in events], {}, 0, datetime.now(UTC))]
    table = f"bench_raw_copy_{new_id('t')[2:]}"
    await conn.execute(f"CREATE TABLE {table} (LIKE audit_log)")
    try:
        start = time.perf_counter()
        for offset in range(0, len(rows), MAX_BATCH):
            async with conn.transaction():
                await conn.copy_records_to_table(table, records=rows[offset:offset + MAX_BATCH], columns=COLUMNS)
        return len(rows) / (time.perf_counter() - start)
    finally:
        await conn.execute(f"DROP TABLE {table}")
