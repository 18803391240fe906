"""The Redis outbox relay: only the lease holder publishes and trims; a lapsed lease passes to another relay."""
import asyncio
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from portico_events import CloudEvent, ConnectionViewed
from shared.ids import new_id
from shared.redis_outbox import RedisOutboxRelay


def queued_event() -> bytes:
    viewed = ConnectionViewed(organization_id=new_id("org"), connection_id=new_id("conn"))
    return CloudEvent.wrap(viewed, source="/portico/tests", time=datetime.now(UTC)).to_bytes()


async def test_only_the_lease_holder_relays_and_a_lapsed_lease_passes_on(redis_client: Redis, kafka: KafkaBroker):
    outbox = f"portico:tests:outbox:{new_id('t')}"
    first, second = (RedisOutboxRelay(redis_client, kafka, outbox, outbox="test") for _ in range(2))
    try:
        await redis_client.rpush(outbox, queued_event(), queued_event())
        assert await first.step() is True
        assert await redis_client.llen(outbox) == 0

        await redis_client.rpush(outbox, queued_event())
        assert await second.step() is False  # the first still holds the lease
        assert await redis_client.llen(outbox) == 1

        await redis_client.pexpire(f"{outbox}:relay-lease", 1)
        await asyncio.sleep(0.05)
        assert await second.step() is True
        assert await redis_client.llen(outbox) == 0
        assert await first.step() is False  # and now the first is the one that waits
    finally:
        await redis_client.delete(outbox, f"{outbox}:relay-lease")
