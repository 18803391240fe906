"""Wiring for connection-config: Postgres (with the outbox relay) and Kafka."""
from pathlib import Path

from fastapi import FastAPI

from shared.broker import make_broker
from shared.runtime import ServiceRuntime
from shared.settings import Settings

SERVICE = "connection-config"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=make_broker(settings, SERVICE),
        database_url=settings.connection_config_database_url.get_secret_value(),
        migrations=Path(__file__).parent / "migrations",
        relay_outbox=True,
    )
    return runtime.http_app()
