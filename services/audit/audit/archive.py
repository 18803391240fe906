"""`python -m audit.archive`: move the oldest records out of the live log into a verified JSONL file.

Retention never deletes silently. This is the only way records leave audit_log, and it is run by
an operator, as the database owner (PORTICO_AUDIT_DATABASE_URL), never by the service. In one
transaction, holding the append lock so the chains stand still, it:
  1. takes every record up to the last one recorded before the cutoff (a prefix of the global order),
  2. verifies those records from the previous archive's anchors (a broken chain is not archived),
  3. writes them to the file (the export's JSONL lines), fsyncs it and moves it into place,
  4. records the archive (range, count, file SHA-256) and each chain's last archived record as the
     anchor that `verify` and the appender continue from,
  5. deletes the archived records, with the append-only trigger switched off for that one statement.
If anything fails before the commit, nothing is deleted; the file may stay behind, harmless.
"""
import argparse
import asyncio
import hashlib
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from audit import store
from audit.domain import ChainHead, ChainVerifier
from audit.query import AuditQuery
from shared.db import PgConnection
from shared.settings import Settings


class ArchiveRefused(RuntimeError):
    pass


@dataclass(frozen=True)
class ArchiveResult:
    number: int
    through_sequence: int
    records: int
    file_sha256: str


async def archive_log(conn: PgConnection, before: datetime, output: Path) -> ArchiveResult | None:
    """Archive every record up to the last one recorded before `before`; None when there is none."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", store.APPEND_LOCK)
        through = await conn.fetchval("SELECT max(sequence) FROM audit_log WHERE recorded_at < $1", before)
        if through is None:
            return None
        archived_through = await store.archived_through(conn)
        verifier = ChainVerifier(await store.archive_anchors(conn), first_sequence=archived_through + 1)
        heads: dict[str, ChainHead] = {}
        digest = hashlib.sha256()
        partial = output.with_name(output.name + ".partial")
        try:
            with partial.open("wb") as file:
                async for record in store.iter_records(conn, AuditQuery(), through_sequence=through):
                    broken = verifier.check(record)
                    if broken is not None:
                        raise ArchiveRefused(f"the chain is broken at record {broken.sequence} ({broken.reason}); "
                                             "run verify, nothing was archived")
                    line = f"{record.canonical()}\n".encode()
                    digest.update(line)
                    file.write(line)
                    heads[record.organization_id] = ChainHead(record.sequence, record.organization_sequence, record.hash)
                file.flush()
                os.fsync(file.fileno())
            partial.replace(output)
            _fsync_directory(output.parent)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        number = await conn.fetchval("SELECT coalesce(max(number), 0) + 1 FROM audit_archive")
        await conn.execute(
            """INSERT INTO audit_archive (number, archived_at, through_sequence, records, file_name, file_sha256)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            number, datetime.now(UTC), through, verifier.checked, output.name, digest.hexdigest(),
        )
        await conn.executemany(
            """INSERT INTO audit_archive_head (organization_id, archive_number, sequence, organization_sequence, hash)
               VALUES ($1, $2, $3, $4, $5)""",
            [(org, number, h.sequence, h.organization_sequence, h.hash) for org, h in heads.items()],
        )
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute("DELETE FROM audit_log WHERE sequence <= $1", through)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        return ArchiveResult(number, through, verifier.checked, digest.hexdigest())


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def cutoff(before: str | None, retention_days: int, now: datetime) -> datetime:
    if before:
        moment = datetime.fromisoformat(before)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    if retention_days <= 0:
        raise ArchiveRefused("PORTICO_AUDIT_RETENTION_DAYS is 0 (keep forever); pass --before to archive anyway")
    return now - timedelta(days=retention_days)


async def _main(args: argparse.Namespace) -> int:
    settings = Settings()
    before = cutoff(args.before, settings.audit_retention_days, datetime.now(UTC))
    conn = await asyncpg.connect(settings.audit_database_url.get_secret_value())
    try:
        result = await archive_log(conn, before, Path(args.output))
    finally:
        await conn.close()
    if result is None:
        print(f"Nothing recorded before {before.isoformat()}; nothing archived.")
    else:
        print(f"Archive {result.number}: {result.records} records (through sequence {result.through_sequence}) "
              f"moved to {args.output}, sha256 {result.file_sha256}.")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m audit.archive", description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="the JSONL file to write")
    parser.add_argument("--before", help="RFC 3339 cutoff; default: now minus PORTICO_AUDIT_RETENTION_DAYS")
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(_main(args)))
    except (ArchiveRefused, ValueError) as error:
        print(f"audit.archive: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
