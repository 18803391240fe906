"""A replica that has not connected to Kafka (still starting, or with wrong credentials) never takes the lead
of an outbox: it would hold the lease or lock while publishing nothing, and stall the deployment's events."""
from redis.asyncio import Redis

from shared.outbox import OutboxRelay
from shared.redis_outbox import RedisOutboxRelay


class NotConnected:
    _connection = None  # what FastStream's KafkaBroker has until connect() succeeds


class Untouchable:
    """A pool that fails the test if the relay reaches for it."""

    def acquire(self) -> object:
        raise AssertionError("the relay took the Postgres lock without a Kafka connection")


async def test_a_redis_outbox_relay_without_kafka_leaves_the_lease_alone():
    redis = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens: any use would raise
    relay = RedisOutboxRelay(redis, NotConnected(), "portico:test:outbox", outbox="test")  # type: ignore[arg-type]
    assert await relay.step() is False
    await redis.aclose()


async def test_a_postgres_outbox_relay_without_kafka_does_not_take_the_lock():
    relay = OutboxRelay(Untouchable(), NotConnected(), outbox="test")  # type: ignore[arg-type]
    assert await relay.step() is False
