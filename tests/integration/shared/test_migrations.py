"""The migration runner against a real Postgres: applies each file once, refuses edited history."""
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from shared.db import MigrationError, apply_migrations
from shared.ids import new_id
from shared.settings import Settings


@pytest.fixture
async def scratch_schema(stack, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A pool whose search_path is a fresh schema, dropped afterwards: no test sees another's tables."""
    schema = new_id("test")
    dsn = settings.link_issuer_database_url.get_secret_value()
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, server_settings={"search_path": schema})
    try:
        yield pool
    finally:
        await pool.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


async def test_migrations_apply_once_and_are_safe_to_run_twice(scratch_schema: asyncpg.Pool, tmp_path: Path):
    (tmp_path / "0001_widgets.sql").write_text("CREATE TABLE widgets (id int PRIMARY KEY);")
    first = await apply_migrations(scratch_schema, "svc", tmp_path)
    second = await apply_migrations(scratch_schema, "svc", tmp_path)
    assert first == ["shared/0001_outbox.sql", "svc/0001_widgets.sql"]
    assert second == []
    assert await scratch_schema.fetchval("SELECT count(*) FROM widgets") == 0


async def test_a_failing_migration_leaves_nothing_half_applied(scratch_schema: asyncpg.Pool, tmp_path: Path):
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.PostgresError):
        await apply_migrations(scratch_schema, "svc", tmp_path)
    assert await scratch_schema.fetchval("SELECT to_regclass('half')") is None
    assert await scratch_schema.fetchval("SELECT count(*) FROM schema_migrations WHERE namespace = 'svc'") == 0


async def test_an_edited_migration_is_refused(scratch_schema: asyncpg.Pool, tmp_path: Path):
    migration = tmp_path / "0001_widgets.sql"
    migration.write_text("CREATE TABLE widgets (id int);")
    await apply_migrations(scratch_schema, "svc", tmp_path)
    migration.write_text("CREATE TABLE widgets (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(scratch_schema, "svc", tmp_path)
