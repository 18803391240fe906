"""Kafka subscriber of the audit service: every Portico topic, in batches, in one consumer group.

A batch is appended in one Postgres transaction and its offsets are committed only after that
transaction commits. A crash in between redelivers the batch, and the append skips the event ids
the log already holds: nothing is lost, nothing is recorded twice.
"""
import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import asyncpg
import structlog
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from audit import store
from audit.checkpoints import Checkpointer
from audit.domain import AuditEntry, UnstorableEvent, entry_from_event
from audit.metrics import RECORDS_WRITTEN
from portico_events import ALL_TOPICS, CloudEvent
from shared.consumers import Consumers

CONSUMER_GROUP = "portico-audit"
MAX_BATCH = 5000
BATCH_TIMEOUT_MS = 100  # how long an idle poll waits; a poll returns as soon as records arrive
RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
log = structlog.get_logger("audit.handlers")


def decode_entries(records: Iterable[ConsumerRecord]) -> list[AuditEntry]:
    """The batch's events in delivery order.

    A message that is no CloudEvent, or one Postgres could never store, would block its partition
    forever if retried, so it is logged and skipped.
    """
    entries = []
    for record in records:
        try:
            entries.append(entry_from_event(CloudEvent.from_bytes(record.value or b"")))
        except ValidationError as error:
            log.error("event.malformed_skipped", topic=record.topic, partition=record.partition,
                      offset=record.offset, errors=error.error_count())
        except UnstorableEvent as error:
            log.error("event.unstorable_skipped", topic=record.topic, partition=record.partition,
                      offset=record.offset, reason=str(error))
    return entries


def register_handlers(
    consumers: Consumers,
    writer: Callable[[], asyncpg.Pool],
    *,
    checkpointer: Checkpointer | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    topics: tuple[str, ...] = ALL_TOPICS,
    group_id: str = CONSUMER_GROUP,
) -> None:
    failures = 0

    @consumers.batches(*topics, group_id=group_id, max_records=MAX_BATCH, poll_timeout_ms=BATCH_TIMEOUT_MS)
    async def record_events(records: tuple[ConsumerRecord, ...]) -> None:
        nonlocal failures
        entries = decode_entries(records)
        if not entries:
            return
        try:
            async with writer().acquire() as conn:
                result = await store.append_audit_batch(conn, entries, clock(), checkpointer)
        except Exception as error:
            # Postgres is down or refusing: wait before the batch is delivered again, not in a hot loop.
            delay = RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S) - 1)]
            failures += 1
            log.error("audit.append_failed", error=repr(error), events=len(entries), retry_in_s=delay)
            await asyncio.sleep(delay)
            raise
        failures = 0
        RECORDS_WRITTEN.inc(result.appended)
        log.debug("audit.batch_recorded", appended=result.appended, duplicates=result.duplicates,
                  checkpoint=result.checkpoint)
        if result.duplicates:
            log.info("audit.duplicates_ignored", duplicates=result.duplicates)
