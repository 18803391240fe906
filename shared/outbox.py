"""Transactional outbox: enqueue events with the change that caused them; one relay per database publishes them."""
from collections.abc import Iterable

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from shared.broker import publish_events
from portico_events import CloudEvent
from shared.relay import RelayLoop

log = structlog.get_logger("shared.outbox")

NOTIFY_CHANNEL = "portico_outbox"
_RELAY_LOCK = "portico.outbox_relay"


async def enqueue_events(conn: asyncpg.Connection, events: Iterable[CloudEvent]) -> None:
    """Write events in the caller's transaction; they are published only if it commits."""
    await conn.executemany(
        "INSERT INTO outbox (event_id, payload) VALUES ($1, $2)",
        [(event.id, event.to_bytes()) for event in events],
    )
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")


class OutboxRelay(RelayLoop):
    """Publishes outbox rows in commit order and deletes them once Kafka has acknowledged them.

    One relay per database is active at a time (a session advisory lock), which keeps one
    organization's events in order across replicas. A crash between publish and delete republishes
    the batch: delivery is at-least-once and consumers deduplicate by event id.
    """

    name = "outbox_relay"

    def __init__(
        self, pool: asyncpg.Pool, broker: KafkaBroker, *, poll_interval_s: float = 0.5, batch_size: int = 500
    ) -> None:
        super().__init__(poll_interval_s)
        self._pool = pool
        self._broker = broker
        self._batch_size = batch_size

    async def step(self) -> bool:
        """Lead while this replica holds the lock; otherwise let the poll interval pass."""
        async with self._pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", _RELAY_LOCK):
                return False  # another replica relays this database
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            try:
                while True:
                    self._wake.clear()
                    if not await self._publish_batch(conn):
                        await self.idle()
            finally:
                await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", _RELAY_LOCK)

    def _on_notify(self, *_: object) -> None:
        self.wake()

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch("SELECT position, payload FROM outbox ORDER BY position LIMIT $1", self._batch_size)
        if rows:
            await publish_events(self._broker, [CloudEvent.from_bytes(row["payload"]) for row in rows])
            await conn.execute("DELETE FROM outbox WHERE position = ANY($1::bigint[])", [row["position"] for row in rows])
            log.debug("outbox.published", count=len(rows))
        return len(rows)
