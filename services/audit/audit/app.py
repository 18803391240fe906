"""Wiring for audit: Postgres for the log, Kafka for every Portico event."""
from pathlib import Path

from fastapi import FastAPI

from audit.handlers import register_handlers
from shared.broker import make_broker
from shared.runtime import ServiceRuntime
from shared.settings import Settings

SERVICE = "audit"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=make_broker(settings, SERVICE),
        database_url=settings.audit_database_url.get_secret_value(),
        migrations=Path(__file__).parent / "migrations",
    )
    register_handlers(runtime.broker, runtime)
    return runtime.http_app()
