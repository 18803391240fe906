"""No raw link token, session cookie or API key secret is stored in Postgres, Redis or Kafka."""
import base64
import glob
import json
import os
import subprocess
from urllib.parse import urlsplit

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from redis.asyncio import Redis

from portico_events import ALL_TOPICS
from shared.settings import Settings
from tests.factories import create_organization, magic_link, shareable_link


async def redis_contents(redis: Redis) -> bytes:
    chunks = []
    async for key in redis.scan_iter(match="portico:*", count=1000):
        kind = (await redis.type(key)).decode()
        chunks.append(key)
        if kind == "string":
            chunks.append(await redis.get(key) or b"")
        elif kind == "hash":
            chunks.extend(b"%s=%s" % pair for pair in (await redis.hgetall(key)).items())
        elif kind == "list":
            chunks.extend(await redis.lrange(key, 0, -1))
        elif kind == "set":
            chunks.extend(await redis.smembers(key))
    return b"\n".join(chunks)


async def kafka_contents(settings: Settings) -> bytes:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()  # aiokafka has no public call for this
        partitions = [TopicPartition(t, p) for t in ALL_TOPICS for p in metadata.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        chunks: list[bytes] = []
        for _ in range(10_000):  # bounded: stops at the end offsets taken above
            positions = [await consumer.position(tp) for tp in partitions]
            if all(position >= ends[tp] for position, tp in zip(positions, partitions, strict=True)):
                break
            for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                chunks.extend(record.value or b"" for record in records)
        return b"\n".join(chunks)
    finally:
        await consumer.stop()


def postgres_dump(settings: Settings, database_url: str) -> bytes:
    parts = urlsplit(database_url)
    pg_dump = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))), "pg_dump")
    result = subprocess.run(
        [pg_dump, "--data-only", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
         "-U", parts.username or "portico", parts.path.lstrip("/")],
        env={**os.environ, "PGPASSWORD": parts.password or ""},
        capture_output=True,
        timeout=60,
        check=True,
    )
    return result.stdout


async def test_no_raw_secret_is_stored_in_postgres_redis_or_kafka(
    api: httpx.AsyncClient, api_key: str, proxy_url: str, redis_client: Redis, settings: Settings
):
    org_id = await create_organization(api, "Secretive")
    magic = (await magic_link(api, org_id))
    shareable = (await shareable_link(api, org_id))
    async with httpx.AsyncClient(base_url=proxy_url) as browser:
        redeemed = await browser.get(urlsplit(shareable["location"]).path)
    cookie = redeemed.cookies["portico_session"]

    secrets: dict[str, str] = {"api key secret": api_key.split(".", 1)[1], "session cookie": cookie}
    for name, link in (("magic", magic), ("shareable", shareable)):
        token = urlsplit(link["location"]).path.rsplit("/", 1)[1]
        _, payload, signature = token.split(".")
        nonce = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["n"]
        secrets |= {f"{name} token": token, f"{name} signature": signature, f"{name} nonce": nonce}

    stores = {
        "postgres link-issuer": postgres_dump(settings, settings.link_issuer_database_url.get_secret_value()),
        "postgres audit": postgres_dump(settings, settings.audit_database_url.get_secret_value()),
        "redis": await redis_contents(redis_client),
        "kafka": await kafka_contents(settings),
    }
    # The scans see real data: the non-secret ids are there.
    assert org_id.encode() in stores["postgres link-issuer"]
    assert shareable["id"].encode() in stores["redis"]
    assert magic["id"].encode() in stores["kafka"]
    leaks = [(what, where) for what, value in secrets.items() for where, blob in stores.items() if value.encode() in blob]
    assert leaks == []
