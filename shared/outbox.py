"""Transactional outbox: enqueue events with the change that caused them; one relay per database publishes them."""
import asyncio
from collections.abc import Iterable

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from shared.broker import publish_events
from shared.events import CloudEvent

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


class OutboxRelay:
    """Publishes outbox rows in commit order and deletes them once Kafka has acknowledged them.

    One relay per database is active at a time (a session advisory lock), which keeps one
    organization's events in order across replicas. A crash between publish and delete republishes
    the batch: delivery is at-least-once and consumers deduplicate by event id.
    """

    def __init__(
        self, pool: asyncpg.Pool, broker: KafkaBroker, *, poll_interval_s: float = 0.5, batch_size: int = 500
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        backoff_s = self._poll_interval_s
        while True:
            try:
                await self._lead_while_possible()
                backoff_s = self._poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Kafka or Postgres away: keep the rows, retry later
                log.warning("outbox.relay_failed", error=repr(error), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)

    async def _lead_while_possible(self) -> None:
        async with self._pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", _RELAY_LOCK):
                await asyncio.sleep(self._poll_interval_s)  # another replica relays this database
                return
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            try:
                await self._drain_forever(conn)
            finally:
                await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", _RELAY_LOCK)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _drain_forever(self, conn: asyncpg.Connection) -> None:
        while True:
            self._wake.clear()  # before reading, so a NOTIFY that lands mid-read is not lost
            rows = await conn.fetch(
                "SELECT position, payload FROM outbox ORDER BY position LIMIT $1", self._batch_size
            )
            if not rows:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
                except TimeoutError:
                    pass
                continue
            await publish_events(self._broker, [CloudEvent.from_bytes(row["payload"]) for row in rows])
            await conn.execute(
                "DELETE FROM outbox WHERE position = ANY($1::bigint[])", [row["position"] for row in rows]
            )
            log.debug("outbox.published", count=len(rows))
