"""Wiring for link-issuer: Postgres (with the outbox relay), Redis, Kafka, the management API and the console."""
from pathlib import Path

from fastapi import FastAPI

from link_issuer.api import install_routes
from link_issuer.handlers import register_handlers
from link_issuer.links import LinkService
from shared.broker import make_broker
from shared.ids import SystemClock
from shared.redis_client import create_redis
from shared.runtime import ServiceRuntime
from shared.settings import Settings

SERVICE = "link-issuer"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=make_broker(settings, SERVICE),
        database_url=settings.link_issuer_database_url.get_secret_value(),
        migrations=Path(__file__).parent / "migrations",
        redis=create_redis(settings.redis_url),
        relay_outbox=True,
    )
    links = LinkService(runtime.require_pool, settings, SystemClock())
    register_handlers(runtime.broker, links)
    app = runtime.http_app()
    install_routes(app, runtime, settings, links)
    return app
