"""An outbox in Redis for services whose state lives there: events are pushed by the same Lua script
that makes the change, and one relay per deployment (a Redis lease) publishes them in order."""
import asyncio
import secrets

import structlog
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from shared.broker import publish_events
from shared.events import CloudEvent

log = structlog.get_logger("shared.redis_outbox")
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


class RedisOutboxRelay:
    """Publishes the events queued in a Redis list, oldest first, and trims them once Kafka acknowledged.

    A crash between publish and trim republishes the batch (at-least-once; consumers deduplicate by id).
    """

    def __init__(
        self, redis: Redis, broker: KafkaBroker, list_key: str, *, poll_interval_s: float = 0.5, batch_size: int = 500
    ) -> None:
        self._redis = redis
        self._broker = broker
        self._list_key = list_key
        self._lease_key = f"{list_key}:relay-lease"
        self._holder = secrets.token_hex(8)
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._trim = redis.register_script(_TRIM_IF_HOLDER)

    def wake(self) -> None:
        """Tell the relay an event was queued by this process, so it need not wait for its poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="redis-outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _hold_lease(self) -> bool:
        if await self._redis.set(self._lease_key, self._holder, nx=True, px=LEASE_MS):
            return True
        holder = await self._redis.get(self._lease_key)
        if holder is not None and holder.decode() == self._holder:
            await self._redis.pexpire(self._lease_key, LEASE_MS)
            return True
        return False

    async def _run(self) -> None:
        backoff_s = self._poll_interval_s
        while True:
            try:
                self._wake.clear()
                published = await self._relay_once() if await self._hold_lease() else 0
                backoff_s = self._poll_interval_s
                if published == 0:
                    try:
                        await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
                    except TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Kafka or Redis away: events stay queued
                log.warning("redis_outbox.relay_failed", error=repr(error), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)

    async def _relay_once(self) -> int:
        raw = await self._redis.lrange(self._list_key, 0, self._batch_size - 1)
        if not raw:
            return 0
        await publish_events(self._broker, [CloudEvent.from_bytes(item) for item in raw])
        # Writers only append, so removing len(raw) from the head removes exactly what was published.
        await self._trim(keys=[self._list_key, self._lease_key], args=[self._holder, len(raw)])
        return len(raw)
