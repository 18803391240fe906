"""Postgres adapter for the audit log: SQL lives here and nowhere else."""
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter

import asyncpg

from audit.checkpoints import Checkpoint, Checkpointer
from audit.domain import AuditEntry, AuditRecord, ChainHead, chain_entries, fresh_entries
from audit.query import AuditQuery
from shared.db import PgConnection

COLUMNS = tuple(field.name for field in fields(AuditRecord))
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM audit_log"
_row_of = attrgetter(*COLUMNS)
# One appender at a time, across replicas: the global sequence and every chain head are read and
# extended under this transaction-scoped lock.
APPEND_LOCK = "portico.audit.append"
STREAM_PREFETCH = 1000


@dataclass(frozen=True)
class AppendResult:
    appended: int
    duplicates: int
    checkpoint: int | None = None


def _record(row: asyncpg.Record) -> AuditRecord:
    return AuditRecord(*row)


async def append_audit_batch(
    conn: PgConnection,
    entries: Sequence[AuditEntry],
    recorded_at: datetime,
    checkpointer: Checkpointer | None = None,
) -> AppendResult:
    """Append the entries not yet in the log, in order, in one transaction; redelivered ids are skipped.

    Redelivery is rare, so the batch is first copied as if every id were new; if the unique index
    on event_id objects, that attempt is rolled back to its savepoint and the batch goes in again
    without the ids the log already holds.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", APPEND_LOCK)
        fresh = fresh_entries(entries, set())
        heads = await _chain_heads(conn, list({e.organization_id for e in fresh}))
        last_sequence = await _last_sequence(conn)
        try:
            async with conn.transaction():
                await _copy(conn, chain_entries(fresh, heads, last_sequence, recorded_at))
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != "audit_log_event_id_key":
                raise
            recorded = await conn.fetch(
                "SELECT event_id FROM audit_log WHERE event_id = ANY($1::text[])", [e.event_id for e in fresh]
            )
            fresh = fresh_entries(fresh, {row["event_id"] for row in recorded})
            await _copy(conn, chain_entries(fresh, heads, last_sequence, recorded_at))
        checkpoint = None
        if fresh and checkpointer is not None:
            checkpoint = await _checkpoint_if_due(conn, checkpointer, recorded_at, last_sequence + len(fresh))
        return AppendResult(appended=len(fresh), duplicates=len(entries) - len(fresh), checkpoint=checkpoint)


async def _copy(conn: PgConnection, records: Iterator[AuditRecord]) -> None:
    await conn.copy_records_to_table("audit_log", records=map(_row_of, records), columns=COLUMNS)


async def _last_sequence(conn: PgConnection) -> int:
    last: int = await conn.fetchval(
        """SELECT greatest((SELECT max(sequence) FROM audit_log),
                           (SELECT max(through_sequence) FROM audit_archive), 0)"""
    )
    return last


async def _chain_heads(conn: PgConnection, organizations: list[str]) -> dict[str, ChainHead]:
    """Each organization's last record in the live log, else its archive anchor; absent means genesis."""
    rows = await conn.fetch(
        """SELECT o.id, h.sequence, h.organization_sequence, h.hash
           FROM unnest($1::text[]) AS o(id)
           CROSS JOIN LATERAL (SELECT sequence, organization_sequence, hash FROM audit_log
                               WHERE organization_id = o.id ORDER BY sequence DESC LIMIT 1) h""",
        organizations,
    )
    heads = {row["id"]: ChainHead(row["sequence"], row["organization_sequence"], row["hash"]) for row in rows}
    missing = [org for org in organizations if org not in heads]
    if missing:
        heads.update(await archive_anchors(conn, missing))
    return heads


async def archive_anchors(conn: PgConnection, organizations: list[str] | None = None) -> dict[str, ChainHead]:
    """Where each chain continues after archiving: its last archived record (all chains when None)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (organization_id) organization_id, sequence, organization_sequence, hash
           FROM audit_archive_head
           WHERE $1::text[] IS NULL OR organization_id = ANY($1::text[])
           ORDER BY organization_id, archive_number DESC""",
        organizations,
    )
    return {row["organization_id"]: ChainHead(row["sequence"], row["organization_sequence"], row["hash"]) for row in rows}


async def archived_through(conn: PgConnection) -> int:
    """Every record with a sequence up to this one was archived (0: none)."""
    through: int = await conn.fetchval("SELECT coalesce(max(through_sequence), 0) FROM audit_archive")
    return through


async def _checkpoint_if_due(
    conn: PgConnection, checkpointer: Checkpointer, now: datetime, sequence: int
) -> int | None:
    last = await last_checkpoint(conn)
    if not checkpointer.due(last, now):
        return None
    rows = await conn.fetch(
        """SELECT DISTINCT ON (organization_id) organization_id, sequence, organization_sequence, hash
           FROM audit_log WHERE sequence > $1 ORDER BY organization_id, sequence DESC""",
        last.sequence if last else 0,
    )
    heads = {row["organization_id"]: ChainHead(row["sequence"], row["organization_sequence"], row["hash"]) for row in rows}
    checkpoint = checkpointer.sign(last, now, sequence, heads)
    await conn.execute(
        """INSERT INTO audit_checkpoint (number, created_at, sequence, heads, public_key, prev_signature, signature)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        checkpoint.number, checkpoint.created_at, checkpoint.sequence, checkpoint.heads,
        checkpoint.public_key, checkpoint.prev_signature, checkpoint.signature,
    )
    return checkpoint.number


async def last_checkpoint(conn: PgConnection) -> Checkpoint | None:
    row = await conn.fetchrow("SELECT * FROM audit_checkpoint ORDER BY number DESC LIMIT 1")
    return Checkpoint(**row) if row else None


async def iter_checkpoints(conn: PgConnection) -> AsyncIterator[Checkpoint]:
    async for row in conn.cursor("SELECT * FROM audit_checkpoint ORDER BY number", prefetch=100):
        yield Checkpoint(**row)


async def records_at(conn: PgConnection, sequences: list[int]) -> dict[int, AuditRecord]:
    rows = await conn.fetch(f"{_SELECT} WHERE sequence = ANY($1::bigint[])", sequences)
    return {row["sequence"]: _record(row) for row in rows}


@asynccontextmanager
async def snapshot(pool: asyncpg.Pool, acquire_timeout_s: float) -> AsyncIterator[PgConnection]:
    """A connection in a read-only, repeatable-read transaction: one consistent view of the log."""
    async with pool.acquire(timeout=acquire_timeout_s) as conn, conn.transaction(
        isolation="repeatable_read", readonly=True
    ):
        yield conn


def _where(query: AuditQuery, after_sequence: int) -> tuple[str, list[object]]:
    clauses = ["sequence > $1"]
    args: list[object] = [after_sequence]
    for column, operator, value in (
        ("organization_id", "=", query.organization_id),
        ("event_type", "=", query.event_type),
        ("actor_kind", "=", query.actor_kind),
        ("actor_id", "=", query.actor_id),
        ("event_time", ">=", query.since),
        ("event_time", "<", query.until),
    ):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} {operator} ${len(args)}")
    return " AND ".join(clauses), args


async def list_records(
    conn: PgConnection, query: AuditQuery, after_sequence: int, limit: int
) -> list[AuditRecord]:
    where, args = _where(query, after_sequence)
    rows = await conn.fetch(f"{_SELECT} WHERE {where} ORDER BY sequence LIMIT {int(limit)}", *args)
    return [_record(row) for row in rows]


async def iter_records(
    conn: PgConnection, query: AuditQuery, after_sequence: int = 0, through_sequence: int | None = None
) -> AsyncIterator[AuditRecord]:
    """Every matching record in sequence order through a server-side cursor: memory stays flat.

    Needs the transaction of `snapshot` (or any transaction) around it.
    """
    where, args = _where(query, after_sequence)
    if through_sequence is not None:
        args.append(through_sequence)
        where += f" AND sequence <= ${len(args)}"
    async for row in conn.cursor(f"{_SELECT} WHERE {where} ORDER BY sequence", *args, prefetch=STREAM_PREFETCH):
        yield _record(row)
