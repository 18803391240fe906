"""The consumer groups a service reads: each a plain aiokafka consumer in a task of its own, handed its
records in batches.

Why not FastStream's subscriber (the broker still publishes): it commits after each batch and only then polls
again, so with portal-session's two groups on `portico.links` every record waited for the urgent group's
commit, a round trip to the coordinator: issued → Redis p50 11.6–14.6 ms through FastStream against 8.0–8.8
ms here (docs/performance.md, "Consumer groups outside FastStream"). Here a commit runs beside the next
batch's work, at most every COMMIT_INTERVAL_S, and a batch is what `getmany` returned, without FastStream's
per-record message objects, header dicts and dependency solving.

The contract is FastStream's ack-on-success, kept: a group's offsets are committed only after its handler
returned; an exception rewinds every partition of the batch to its first record, so the batch comes again
(handlers are idempotent by event id, and wait before raising when a dependency is down, see
`shared.broker.paused_on_failure`). A failed commit (a rebalance, Kafka away) is logged and the records come
again to whoever holds the partition next.
"""
import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import chain

import aiokafka
import aiokafka.errors
import structlog
from aiokafka import ConsumerRecord, TopicPartition

from shared import tracing
from shared.broker import FETCH_MAX_WAIT_MS, aiokafka_options
from shared.metrics import CONSUMER_FAILED_BATCHES, CONSUMER_LAG, CONSUMER_RECORDS, start_at_zero
from shared.settings import Settings

BatchHandler = Callable[[tuple[ConsumerRecord, ...]], Awaitable[None]]
log = structlog.get_logger("shared.consumers")

POLL_TIMEOUT_MS = 100  # how long one getmany waits for records; it returns as soon as some arrive
RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # between attempts to join the group while Kafka is away
FAILED_BATCH_PAUSE_S = 0.5  # after any failed poll or batch (on top of a handler's own pause): never a hot loop
STOP_TIMEOUT_S = 10.0
COMMIT_INTERVAL_S = 0.2  # the most often a group commits; a crash re-delivers at most this much more
LAG_INTERVAL_S = 1.0  # how often a group's lag per partition is read for /metrics


@dataclass
class _Group:
    topics: tuple[str, ...]
    group_id: str
    handler: BatchHandler
    max_records: int
    poll_timeout_ms: int


@dataclass
class Consumers:
    """A service's consumer groups: declared with `batches`, started after its pools are open, stopped
    before they close (a `shared.runtime.Component`)."""

    settings: Settings
    client_id: str
    _groups: list[_Group] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def batches(
        self, *topics: str, group_id: str, max_records: int, poll_timeout_ms: int = POLL_TIMEOUT_MS
    ) -> Callable[[BatchHandler], BatchHandler]:
        """Decorate `async def handle(records)` as the consumer of `topics` in `group_id`, given up to
        `max_records` raw records at a time, in each partition's order (decoding, and skipping what is
        malformed, is the handler's business)."""

        def register(handler: BatchHandler) -> BatchHandler:
            self._groups.append(_Group(topics, group_id, handler, max_records, poll_timeout_ms))
            return handler

        return register

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._consume(group), name=f"consume:{group.group_id}") for group in self._groups
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def _new_consumer(self, group: _Group) -> aiokafka.AIOKafkaConsumer:
        return aiokafka.AIOKafkaConsumer(
            *group.topics,
            group_id=group.group_id,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            **aiokafka_options(self.settings),
        )

    async def _joined(self, group: _Group) -> aiokafka.AIOKafkaConsumer:
        """A started consumer of the group, however long Kafka takes to accept one."""
        attempt = 0
        while True:
            consumer = self._new_consumer(group)
            try:
                await consumer.start()
                log.info("kafka.consumer_started", group=group.group_id, topics=list(group.topics))
                return consumer
            except Exception as error:
                await _stopped(consumer)
                delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
                attempt += 1
                log.warning("kafka.consumer_not_started", group=group.group_id, error=repr(error), retry_in_s=delay)
                await asyncio.sleep(delay)

    async def _consume(self, group: _Group) -> None:
        consumer = await self._joined(group)
        committer = _Committer(consumer, group.group_id)
        lag = _LagGauges(consumer, group.group_id)
        start_at_zero(CONSUMER_RECORDS, [group.group_id])
        start_at_zero(CONSUMER_FAILED_BATCHES, [group.group_id])
        try:
            while True:
                await _one_batch(consumer, group, committer)
                await lag.update()
        finally:
            lag.clear()
            await committer.settled()
            await _stopped(consumer)


class _LagGauges:
    """portico_consumer_lag_records of the partitions assigned to this instance, read at most every
    LAG_INTERVAL_S between batches: the high-water mark of the partition's last fetch minus the position (the
    next record the group will be handed; a failed batch is rewound first, so it counts as not handled)."""

    def __init__(self, consumer: aiokafka.AIOKafkaConsumer, group_id: str) -> None:
        self._consumer = consumer
        self._group_id = group_id
        self._shown: set[TopicPartition] = set()
        self._next = 0.0

    async def update(self) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + LAG_INTERVAL_S
        assigned = set(self._consumer.assignment())
        for partition in assigned:
            highwater = self._consumer.highwater(partition)
            if highwater is None:
                continue  # no fetch answered for it yet
            try:
                position = await self._consumer.position(partition)
            except aiokafka.errors.IllegalStateError:
                continue  # taken away by a rebalance meanwhile
            CONSUMER_LAG.labels(*self._labels(partition)).set(max(0, highwater - position))
            self._shown.add(partition)
        self._forget(self._shown - assigned)  # another instance reports them now

    def clear(self) -> None:
        self._forget(set(self._shown))

    def _labels(self, partition: TopicPartition) -> tuple[str, str, str]:
        return self._group_id, partition.topic, str(partition.partition)

    def _forget(self, partitions: set[TopicPartition]) -> None:
        for partition in partitions:
            CONSUMER_LAG.remove(*self._labels(partition))
        self._shown -= partitions


class _Committer:
    """Commits a group's offsets beside its work instead of in front of the next batch, at most every
    COMMIT_INTERVAL_S: the offsets handled meanwhile go in the next commit. A commit is a round trip to the
    group's coordinator and a write to Kafka's offsets log; waiting for it before the next poll added about
    2 ms to every event's way, and one per batch made a quiet flow of links cost each of the four groups on
    portico.links a commit per link (measured one link at a time, docs/performance.md). Offsets still go to
    Kafka only after their batch was handled; one not committed at a crash or a rebalance means those
    records come again (handlers are idempotent by event id)."""

    def __init__(self, consumer: aiokafka.AIOKafkaConsumer, group_id: str) -> None:
        self._consumer = consumer
        self._group_id = group_id
        self._offsets: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0

    def handled(self, offsets: dict[TopicPartition, int]) -> None:
        self._offsets.update(offsets)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit(), name=f"commit:{self._group_id}")

    async def _commit(self) -> None:
        while self._offsets:
            await asyncio.sleep(max(0.0, self._last + COMMIT_INTERVAL_S - time.monotonic()))
            offsets, self._offsets = self._offsets, {}
            self._last = time.monotonic()
            try:
                await self._consumer.commit(offsets)
            except aiokafka.errors.KafkaError as error:
                # A rebalance took the partitions away, or Kafka is away: whoever reads them next gets these again.
                log.warning("kafka.commit_failed", group=self._group_id, error=repr(error))

    async def settled(self) -> None:
        """The commit in flight (and what it picked up) has finished, as far as a stopping service can wait."""
        if self._task is not None and not self._task.done():
            with suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)


async def _one_batch(consumer: aiokafka.AIOKafkaConsumer, group: _Group, committer: _Committer) -> None:
    try:
        fetched = await consumer.getmany(timeout_ms=group.poll_timeout_ms, max_records=group.max_records)
    except aiokafka.errors.KafkaError as error:
        log.warning("kafka.poll_failed", group=group.group_id, error=repr(error))
        await asyncio.sleep(FAILED_BATCH_PAUSE_S)
        return
    if not fetched:
        return
    records = tuple(chain.from_iterable(fetched.values()))
    try:
        if tracing.ENABLED:
            await tracing.traced_batch(group.handler, records, group.group_id)
        else:
            await group.handler(records)
    except Exception as error:
        log.error("kafka.batch_failed", group=group.group_id, records=len(records), error=repr(error))
        CONSUMER_FAILED_BATCHES.labels(group.group_id).inc()
        _rewind(consumer, fetched)
        await asyncio.sleep(FAILED_BATCH_PAUSE_S)
        return
    CONSUMER_RECORDS.labels(group.group_id).inc(len(records))
    committer.handled({partition: batch[-1].offset + 1 for partition, batch in fetched.items()})


def _rewind(consumer: aiokafka.AIOKafkaConsumer, fetched: dict[TopicPartition, list[ConsumerRecord]]) -> None:
    for partition, batch in fetched.items():
        with suppress(aiokafka.errors.IllegalStateError):  # no longer ours after a rebalance
            consumer.seek(partition, batch[0].offset)


async def _stopped(consumer: aiokafka.AIOKafkaConsumer) -> None:
    try:
        await asyncio.wait_for(consumer.stop(), STOP_TIMEOUT_S)
    except Exception as error:
        log.warning("kafka.consumer_stop_failed", error=repr(error))
