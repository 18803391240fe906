"""An outbox in Redis for services whose state lives there: events are pushed by the same Lua script
that makes the change, and one relay per deployment (a Redis lease) publishes them in order."""
import secrets
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from portico_events import CloudEvent
from shared import tracing
from shared.broker import producer_connected, publish_events
from shared.relay import RelayLoop

LEASE_MS = 5_000


def queued(event: CloudEvent) -> bytes:
    """An event as a writer's Lua script pushes it into the outbox: with the current trace context when tracing
    is on, as the Postgres outbox stamps its events (shared/outbox.py)."""
    return (tracing.stamped(event) if tracing.ENABLED else event).to_bytes()

# Take the lease if it is free, renew it if it is ours, and read the head of the outbox, in one round trip
# (the relay runs a step after every redemption). Returns {0} to a relay that does not hold the lease.
_CLAIM_BATCH = """
local holder = redis.call('GET', KEYS[2])
if holder == false then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
else
  return {0}
end
return {1, redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)}
"""

# Trim only while still holding the lease: a relay that lost it mid-publish must not drop events
# that the new holder has not published yet.
_TRIM_IF_HOLDER = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('LTRIM', KEYS[1], tonumber(ARGV[2]), -1)
  return 1
end
return 0
"""


class RedisOutboxRelay(RelayLoop):
    """Publishes the events queued in a Redis list, oldest first, and trims them once Kafka acknowledged.

    A crash between publish and trim republishes the batch (at-least-once; consumers deduplicate by id).
    """

    name = "redis_outbox_relay"

    def __init__(
        self, redis: Redis, broker: KafkaBroker, list_key: str, *, outbox: str, poll_interval_s: float = 0.5,
        batch_size: int = 500,
    ) -> None:
        super().__init__(poll_interval_s, outbox)
        self._redis = redis
        self._broker = broker
        self._list_key = list_key
        self._lease_key = f"{list_key}:relay-lease"
        self._holder = secrets.token_hex(8)
        self._batch_size = batch_size
        self._claim = redis.register_script(_CLAIM_BATCH)
        self._trim = redis.register_script(_TRIM_IF_HOLDER)

    async def backlog(self) -> tuple[int, float]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.llen(self._list_key)
            pipe.lindex(self._list_key, 0)
            pending, oldest = await pipe.execute()
        if not oldest:
            return int(pending), 0.0
        queued = CloudEvent.from_bytes(oldest).time  # dated when its change was made, in the same script
        return int(pending), max(0.0, (datetime.now(UTC) - queued).total_seconds())

    async def step(self) -> bool:
        if not producer_connected(self._broker):
            return False  # not connected to Kafka (yet, or with wrong credentials): leave the lease to one that is
        claimed = await self._claim(keys=[self._list_key, self._lease_key], args=[self._holder, LEASE_MS, self._batch_size])
        if not claimed[0]:
            return False  # another replica relays
        raw = claimed[1]
        if not raw:
            return False
        await publish_events(self._broker, [CloudEvent.from_bytes(item) for item in raw])
        # Writers only append, so removing len(raw) from the head removes exactly what was published.
        await self._trim(keys=[self._list_key, self._lease_key], args=[self._holder, len(raw)])
        self.published(len(raw))
        return True
