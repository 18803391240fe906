"""Verify of every chain, archiving and signed checkpoints, on a private copy of the audit schema.

These rewrite and delete records, so they never touch the shared log; the service's own schema
and the writer role are the same.
"""
import base64
import json
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from audit import store
from audit.archive import ArchiveRefused, archive_log
from audit.checkpoints import Checkpointer, load_signing_key, public_key_hex
from audit.domain import entry_from_event
from audit.verification import verify_log
from portico_events import CloudEvent, ConnectionViewed
from shared.ids import new_id
from shared.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "audit" / "audit" / "migrations"
NOW = datetime.now(UTC)


@pytest.fixture
async def private_log(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """The owner's connection with the audit migrations applied in a schema of its own, dropped after."""
    schema = f"audit_test_{new_id('s')[2:]}"
    conn = await asyncpg.connect(settings.audit_database_url.get_secret_value())
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(f"SET search_path TO {schema}")
        for migration in sorted(MIGRATIONS.glob("*.sql")):
            await conn.execute(migration.read_text())
        yield conn
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


def viewed(org: str) -> CloudEvent:
    return CloudEvent.wrap(ConnectionViewed(organization_id=org), source="/portico/tests", time=NOW)


async def append(conn: asyncpg.Connection, events: list[CloudEvent], recorded_at: datetime,
                 checkpointer: Checkpointer | None = None) -> None:
    await store.append_audit_batch(conn, [entry_from_event(e) for e in events], recorded_at, checkpointer)


async def verify(conn: asyncpg.Connection, organization_id: str | None = None, key: str | None = None) -> dict:
    async with conn.transaction():
        return (await verify_log(conn, organization_id, key)).body()


async def test_verify_of_everything_also_notices_a_record_missing_from_the_global_order(private_log):
    conn = private_log
    a, b = new_id("org"), new_id("org")
    await append(conn, [viewed(a), viewed(b), viewed(a), viewed(b)], NOW)
    assert (await verify(conn)) | {"last_hash": None} == {
        "ok": True, "organization_id": None, "checked": 4, "last_sequence": 4, "last_hash": None,
        "archived_through": 0, "checkpoints_checked": 0, "first_broken": None}

    last_of_a = await conn.fetchval("SELECT max(sequence) FROM audit_log WHERE organization_id = $1", a)
    async with conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute("DELETE FROM audit_log WHERE sequence = $1", last_of_a)  # a's newest: its chain looks fine
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    assert (await verify(conn, a))["ok"] is True
    report = await verify(conn)
    assert report["ok"] is False
    assert (report["first_broken"]["sequence"], report["first_broken"]["reason"]) == (4, "sequence_gap")


async def test_archiving_moves_the_oldest_records_to_a_file_and_chains_continue(private_log, tmp_path):
    conn = private_log
    a, b = new_id("org"), new_id("org")
    old = [viewed(a), viewed(b), viewed(a)]
    await append(conn, old, NOW - timedelta(days=40))
    recent = [viewed(a), viewed(b)]
    await append(conn, recent, NOW)

    output = tmp_path / "archive-1.jsonl"
    result = await archive_log(conn, NOW - timedelta(days=30), output)
    assert (result.number, result.records, result.through_sequence) == (1, 3, 3)
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["event_id"] for line in lines] == [e.id for e in old]
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == 2
    assert await conn.fetchval("SELECT file_sha256 FROM audit_archive") == result.file_sha256

    report = await verify(conn)
    assert report["ok"] and report["checked"] == 2 and report["archived_through"] == 3
    assert (await verify(conn, a))["ok"]

    await append(conn, [viewed(a)], NOW)  # continues a's chain after its archived and live records
    row = await conn.fetchrow("SELECT organization_sequence FROM audit_log ORDER BY sequence DESC LIMIT 1")
    assert row["organization_sequence"] == 4
    assert (await verify(conn))["ok"]

    assert await archive_log(conn, NOW - timedelta(days=30), tmp_path / "again.jsonl") is None
    assert not (tmp_path / "again.jsonl").exists()


async def test_a_broken_chain_is_not_archived(private_log, tmp_path):
    conn = private_log
    org = new_id("org")
    await append(conn, [viewed(org) for _ in range(3)], NOW - timedelta(days=40))
    async with conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute("UPDATE audit_log SET source = 'forged' WHERE sequence = 2")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")

    with pytest.raises(ArchiveRefused, match="record 2"):
        await archive_log(conn, NOW, tmp_path / "archive.jsonl")
    assert await conn.fetchval("SELECT count(*) FROM audit_log") == 3
    assert not list(tmp_path.iterdir())


async def test_signed_checkpoints_catch_a_rewritten_and_rehashed_chain(private_log):
    conn = private_log
    key = load_signing_key(base64.b64encode(os.urandom(32)).decode())
    checkpointer = Checkpointer(key, timedelta(0))
    trusted = public_key_hex(key)
    org = new_id("org")
    for _ in range(3):
        await append(conn, [viewed(org), viewed(new_id("org"))], NOW, checkpointer)
    report = await verify(conn, key=trusted)
    assert report["ok"] and report["checkpoints_checked"] == 3

    # Rewrite org's first record and recompute every hash after it: the chain alone still adds up.
    records = [store._record(row) for row in await conn.fetch(
        f"SELECT {', '.join(store.COLUMNS)} FROM audit_log WHERE organization_id = $1 ORDER BY sequence", org)]
    prev_hash, forged = records[0].prev_hash, []
    for index, record in enumerate(records):
        changed = replace(record, actor_id="intruder" if index == 0 else record.actor_id, prev_hash=prev_hash)
        changed = replace(changed, hash=changed.computed_hash())
        forged.append(changed)
        prev_hash = changed.hash
    async with conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.executemany("UPDATE audit_log SET actor_id = $2, prev_hash = $3, hash = $4 WHERE sequence = $1",
                               [(r.sequence, r.actor_id, r.prev_hash, r.hash) for r in forged])
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")

    assert (await verify(conn, org))["ok"] is True  # without the key, nothing to hold it against
    report = await verify(conn, org, key=trusted)
    assert report["ok"] is False
    assert report["first_broken"]["reason"] == "checkpoint_mismatch"
    assert report["first_broken"]["sequence"] == records[0].sequence

    other_key = public_key_hex(load_signing_key(base64.b64encode(os.urandom(32)).decode()))
    assert (await verify(conn, key=other_key))["first_broken"]["reason"] == "checkpoint_key_unknown"
