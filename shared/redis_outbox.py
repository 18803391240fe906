"""An outbox in Redis for services whose state lives there: events are pushed by the same Lua script
that makes the change, and one relay per deployment (a Redis lease) publishes them in order."""
import secrets

from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from shared.broker import publish_events
from portico_events import CloudEvent
from shared.relay import RelayLoop

LEASE_MS = 5_000

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
        self, redis: Redis, broker: KafkaBroker, list_key: str, *, poll_interval_s: float = 0.5, batch_size: int = 500
    ) -> None:
        super().__init__(poll_interval_s)
        self._redis = redis
        self._broker = broker
        self._list_key = list_key
        self._lease_key = f"{list_key}:relay-lease"
        self._holder = secrets.token_hex(8)
        self._batch_size = batch_size
        self._trim = redis.register_script(_TRIM_IF_HOLDER)

    async def _hold_lease(self) -> bool:
        if await self._redis.set(self._lease_key, self._holder, nx=True, px=LEASE_MS):
            return True
        holder = await self._redis.get(self._lease_key)
        if holder is not None and holder.decode() == self._holder:
            await self._redis.pexpire(self._lease_key, LEASE_MS)
            return True
        return False

    async def step(self) -> bool:
        if not await self._hold_lease():
            return False
        raw = await self._redis.lrange(self._list_key, 0, self._batch_size - 1)
        if not raw:
            return False
        await publish_events(self._broker, [CloudEvent.from_bytes(item) for item in raw])
        # Writers only append, so removing len(raw) from the head removes exactly what was published.
        await self._trim(keys=[self._list_key, self._lease_key], args=[self._holder, len(raw)])
        return True
