"""asyncpg pool and the forward-only migration runner every Postgres-backed service uses at start."""
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

log = structlog.get_logger("shared.db")

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
SHARED_MIGRATIONS = Path(__file__).parent / "migrations"

# What `pool.acquire()` yields (a proxy, not a subclass) or `asyncpg.connect()` returns: queries take either.
PgConnection: TypeAlias = asyncpg.Connection | PoolConnectionProxy


async def _keep_session(_: asyncpg.Connection) -> None:
    """The pool's reset: nothing beyond what asyncpg always does on release (roll back a transaction left open,
    drop listeners on the client side).

    asyncpg's default also sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;` on every
    release: a round trip per pool use, 14 % of link-issuer's CPU issuing links under wrk. Nothing here leaves
    session state on a pooled connection: no SET, cursors or session locks of our own; the one session lock
    and LISTEN (shared/outbox.py's relay) are released by the relay before it lets the connection go."""


def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """An unopened pool: `await` it to connect (so it can be built before the event loop runs)."""
    return asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=30,
                               reset=_keep_session)


@dataclass(frozen=True)
class Migration:
    namespace: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def load_migrations(namespace: str, directory: Path) -> list[Migration]:
    """Read `NNNN_name.sql` files in version order; anything else in the folder is a mistake."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        migrations.append(Migration(namespace, int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return migrations


async def pending_migrations(pool: asyncpg.Pool, namespace: str, directory: Path, timeout_s: float) -> list[str]:
    """The shared migrations and the `namespace` ones in `directory` that the pool's database has not had yet:
    for a process that uses a schema another one owns and migrates."""
    expected = [*load_migrations("shared", SHARED_MIGRATIONS), *load_migrations(namespace, directory)]
    async with pool.acquire(timeout=timeout_s) as conn:
        applied = set()
        if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL", timeout=timeout_s):
            rows = await conn.fetch(
                "SELECT namespace, version FROM schema_migrations WHERE namespace = ANY($1::text[])",
                ["shared", namespace], timeout=timeout_s,
            )
            applied = {(row["namespace"], row["version"]) for row in rows}
    return [f"{m.namespace}/{m.name}" for m in expected if (m.namespace, m.version) not in applied]


async def apply_migrations(pool: asyncpg.Pool, namespace: str, directory: Path | None) -> list[str]:
    """Apply the shared migrations, then the service's own, each once; return the names applied.

    A transaction-scoped advisory lock serialises replicas starting together; each migration runs in
    the same transaction as its bookkeeping row, so a crash leaves it either applied or not at all.
    An applied file that later changed is refused rather than silently ignored.
    """
    batches = [load_migrations("shared", SHARED_MIGRATIONS)]
    if directory is not None:
        batches.append(load_migrations(namespace, directory))
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   namespace text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (namespace, version))"""
        )
        for migrations in batches:
            for migration in migrations:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('portico.schema_migrations'))")
                    checksum = await conn.fetchval(
                        "SELECT checksum FROM schema_migrations WHERE namespace = $1 AND version = $2",
                        migration.namespace,
                        migration.version,
                    )
                    if checksum == migration.checksum:
                        continue
                    if checksum is not None:
                        raise MigrationError(
                            f"{migration.namespace}/{migration.name} was changed after it was applied; "
                            "add a new migration instead"
                        )
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (namespace, version, name, checksum) VALUES ($1, $2, $3, $4)",
                        migration.namespace,
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                    applied_now.append(f"{migration.namespace}/{migration.name}")
    if applied_now:
        log.info("migrations.applied", migrations=applied_now)
    return applied_now
