"""Wiring for audit: the owner role migrates, the restricted writer role appends and reads, Kafka brings every event."""
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fastapi import FastAPI

from audit.api import build_router
from audit.checkpoints import Checkpointer, load_signing_key, public_key_hex
from audit.handlers import register_handlers
from audit.verification import ScheduledVerification
from shared.broker import make_broker
from shared.runtime import PoolSpec, ServiceRuntime
from shared.settings import Settings

SERVICE = "audit"
MIGRATIONS = Path(__file__).parent / "migrations"
WRITER_ROLE = "portico_audit_writer"  # created by deploy/local/postgres.sh and deploy/docker/postgres-init.sql
# Both pools are the writer role: the consumer appends through one, exports and verifies read through the
# other, holding a connection each, so they never take the consumer's.
WRITER_POOL = "writer"
READ_POOL = "reader"
READ_POOL_SIZE = 8


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


def create_app(settings: Settings) -> FastAPI:
    checkpointer = checkpointer_from(settings)
    writer_url = writer_database_url(settings)
    broker = make_broker(settings, SERVICE)
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        pools=[
            PoolSpec(WRITER_POOL, writer_url, max_size=2),
            PoolSpec(READ_POOL, writer_url, max_size=READ_POOL_SIZE),
        ],
        migrations=MIGRATIONS,
        migrate_as=settings.audit_database_url.get_secret_value(),
    )
    register_handlers(runtime.consumers, partial(runtime.require_pool, WRITER_POOL), checkpointer=checkpointer)
    trusted_key = public_key_hex(checkpointer.key) if checkpointer else None
    reader = partial(runtime.require_pool, READ_POOL)
    runtime.components.append(ScheduledVerification(reader, trusted_key, settings.audit_verify_interval_s))
    app = runtime.http_app()
    app.include_router(build_router(reader, trusted_key))
    return app
