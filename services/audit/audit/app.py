"""Wiring for audit: the owner role migrates, the restricted writer role appends and reads, Kafka brings every event."""
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from fastapi import FastAPI

from audit.api import build_router
from audit.checkpoints import Checkpointer, load_signing_key, public_key_hex
from audit.handlers import register_handlers
from shared.broker import make_broker
from shared.db import apply_migrations, create_pool
from shared.health import health_router, postgres_ready
from shared.runtime import ServiceRuntime
from shared.service import connect_with_retry, create_http_app
from shared.settings import Settings

SERVICE = "audit"
MIGRATIONS = Path(__file__).parent / "migrations"
WRITER_ROLE = "portico_audit_writer"  # created by deploy/local/postgres.sh and deploy/docker/postgres-init.sql
READ_POOL_SIZE = 8  # exports and verifies hold a connection each; they never take the writer's


def writer_database_url(settings: Settings) -> str:
    """PORTICO_AUDIT_WRITER_DATABASE_URL, or the owner's server and database as the writer role without a
    password (deploy/local's private cluster lets it in from 127.0.0.1; elsewhere set the URL)."""
    if settings.audit_writer_database_url is not None:
        return settings.audit_writer_database_url.get_secret_value()
    owner = urlsplit(settings.audit_database_url.get_secret_value())
    server = owner.netloc.rpartition("@")[2]
    return urlunsplit(owner._replace(netloc=f"{WRITER_ROLE}@{server}"))


def checkpointer_from(settings: Settings) -> Checkpointer | None:
    if settings.audit_checkpoint_signing_key is None:
        return None
    key = load_signing_key(settings.audit_checkpoint_signing_key.get_secret_value())
    return Checkpointer(key, timedelta(seconds=settings.audit_checkpoint_interval_s))


@dataclass
class AuditDatabase:
    """Two pools as the writer role: one for the consumer, one for the read side."""

    owner_url: str
    writer_url: str
    writer: asyncpg.Pool | None = field(default=None, init=False)
    reader: asyncpg.Pool | None = field(default=None, init=False)

    async def open(self) -> None:
        owner = await connect_with_retry("postgres", lambda: create_pool(self.owner_url, min_size=1, max_size=1))
        try:
            await apply_migrations(owner, SERVICE, MIGRATIONS)
        finally:
            await owner.close()
        self.writer = await connect_with_retry("postgres", lambda: create_pool(self.writer_url, min_size=1, max_size=2))
        self.reader = await create_pool(self.writer_url, min_size=1, max_size=READ_POOL_SIZE)

    async def close(self) -> None:
        for pool in (self.reader, self.writer):
            if pool is not None:
                await pool.close()

    def require_writer(self) -> asyncpg.Pool:
        if self.writer is None:
            raise RuntimeError("audit: the writer pool was used before start-up opened it")
        return self.writer

    def require_reader(self) -> asyncpg.Pool:
        if self.reader is None:
            raise RuntimeError("audit: the read pool was used before start-up opened it")
        return self.reader


def create_app(settings: Settings) -> FastAPI:
    database = AuditDatabase(settings.audit_database_url.get_secret_value(), writer_database_url(settings))
    checkpointer = checkpointer_from(settings)
    runtime = ServiceRuntime(name=SERVICE, settings=settings, broker=make_broker(settings, SERVICE))
    register_handlers(runtime.broker, database.require_writer, checkpointer=checkpointer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await database.open()  # before Kafka, so no batch arrives without a log to append to
        try:
            async with runtime.lifespan(app):
                yield
        finally:
            await database.close()

    app = create_http_app(SERVICE, lifespan)
    app.include_router(health_router(SERVICE, {
        "kafka": runtime.readiness_checks()["kafka"],
        "postgres": lambda: postgres_ready(database.writer),
    }))
    app.include_router(build_router(database.require_reader, public_key_hex(checkpointer.key) if checkpointer else None))
    return app
