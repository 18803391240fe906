"""Transactional outbox: enqueue events with the change that caused them; one relay per database publishes them."""
from collections.abc import Iterable, Sequence

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from portico_events import CloudEvent
from shared import tracing
from shared.broker import producer_connected, publish_events
from shared.db import PgConnection
from shared.relay import RelayLoop

log = structlog.get_logger("shared.outbox")

NOTIFY_CHANNEL = "portico_outbox"
_RELAY_LOCK = "portico.outbox_relay"


_QUEUE = "INSERT INTO outbox (event_id, payload) SELECT * FROM unnest(${ids}::text[], ${payloads}::bytea[])"
_WAKE_RELAY = f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"


def _queue_arguments(events: Iterable[CloudEvent]) -> tuple[list[str], list[bytes]]:
    listed = list(events)
    if tracing.ENABLED:  # each event continues the trace of the change that queued it
        listed = [tracing.stamped(event) for event in listed]
    return [event.id for event in listed], [event.to_bytes() for event in listed]


async def enqueue_events(conn: PgConnection, events: Iterable[CloudEvent]) -> None:
    """Write events in the caller's transaction; they are published only if it commits.

    One statement queues them and wakes the relay (the notification is delivered at commit).
    """
    ids, payloads = _queue_arguments(events)
    await conn.execute(f"WITH queued AS ({_QUEUE.format(ids=1, payloads=2)}) {_WAKE_RELAY}", ids, payloads)


async def record_events(pool: asyncpg.Pool, events: Iterable[CloudEvent]) -> None:
    """Queue events that describe no change of this database (a failed sign-in, an audit export)."""
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_events(conn, events)


async def execute_with_events(
    db: asyncpg.Pool | PgConnection, statement: str, args: Sequence[object], events: Iterable[CloudEvent]
) -> None:
    """Run one INSERT/UPDATE/DELETE (no RETURNING) and queue its events as a single statement.

    A single statement is atomic on its own, so a change and its events need one round trip instead
    of a transaction's BEGIN, change, queue, notify and COMMIT (the hot path of link issuance).
    """
    ids, payloads = _queue_arguments(events)
    n = len(args)
    sql = f"WITH change AS ({statement}), queued AS ({_QUEUE.format(ids=n + 1, payloads=n + 2)}) {_WAKE_RELAY}"
    await db.execute(sql, *args, ids, payloads)


class OutboxRelay(RelayLoop):
    """Publishes outbox rows in commit order and deletes them once Kafka has acknowledged them.

    One relay per database is active at a time (a session advisory lock), which keeps one
    organization's events in order across replicas. A crash between publish and delete republishes
    the batch: delivery is at-least-once and consumers deduplicate by event id.
    """

    name = "outbox_relay"

    def __init__(
        self, pool: asyncpg.Pool, broker: KafkaBroker, *, outbox: str, poll_interval_s: float = 0.5,
        batch_size: int = 500,
    ) -> None:
        super().__init__(poll_interval_s, outbox)
        self._pool = pool
        self._broker = broker
        self._batch_size = batch_size

    async def step(self) -> bool:
        """Lead while this replica holds the lock; otherwise let the poll interval pass."""
        if not producer_connected(self._broker):
            return False  # not connected to Kafka (yet, or with wrong credentials): leave the lead to one that is
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

    async def backlog(self) -> tuple[int, float]:
        pending, age = (await self._pool.fetch(
            "SELECT count(*), extract(epoch FROM clock_timestamp() - min(created_at)) FROM outbox"
        ))[0]
        return pending, float(age or 0.0)

    def _on_notify(self, *_: object) -> None:
        self.wake()

    async def _publish_batch(self, conn: PgConnection) -> int:
        rows = await conn.fetch("SELECT position, payload FROM outbox ORDER BY position LIMIT $1", self._batch_size)
        if rows:
            await publish_events(self._broker, [CloudEvent.from_bytes(row["payload"]) for row in rows])
            await conn.execute("DELETE FROM outbox WHERE position = ANY($1::bigint[])", [row["position"] for row in rows])
            self.published(len(rows))
            log.debug("outbox.published", count=len(rows))
        return len(rows)
