"""Wiring for link-issuer: Postgres (with the outbox relay, which also publishes the console's events), Kafka
and the management API. The console is a process of its own (link_issuer/console/app.py) on the same database."""
from pathlib import Path

from fastapi import FastAPI

from link_issuer.api import install_routes
from link_issuer.handlers import register_handlers
from link_issuer.links import LinkService
from shared.broker import make_broker
from shared.ids import SystemClock
from shared.runtime import PoolSpec, ServiceRuntime
from shared.settings import Settings

SERVICE = "link-issuer"


def create_app(settings: Settings) -> FastAPI:
    broker = make_broker(settings, SERVICE)
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=broker,
        pools=[PoolSpec("main", settings.link_issuer_database_url.get_secret_value())],
        migrations=Path(__file__).parent / "migrations",
        relay_outbox=True,
    )
    links = LinkService(runtime.require_pool, settings, SystemClock())
    register_handlers(runtime.consumers, links)
    app = runtime.http_app()
    install_routes(app, runtime, settings, links)
    return app
