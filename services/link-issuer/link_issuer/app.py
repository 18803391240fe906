"""Wiring for link-issuer: Postgres (with the outbox relay), Redis, Kafka, the management API and the console."""
from pathlib import Path

from fastapi import FastAPI

from link_issuer.accounts.passwords import PasswordHashing
from link_issuer.api import install_routes
from link_issuer.console.api import Console, install_console_api
from link_issuer.console.auth import ConsoleAuth, current_operator
from link_issuer.console.pages import install_console_pages
from link_issuer.console.store import ConsoleStore
from link_issuer.console.upstream import AuditReader, ConnectionReader
from link_issuer.handlers import register_handlers
from link_issuer.links import LinkService
from shared.broker import make_broker
from shared.ids import SystemClock
from shared.redis_client import create_redis
from shared.runtime import PoolSpec, ServiceRuntime
from shared.settings import Settings

SERVICE = "link-issuer"


def create_app(settings: Settings) -> FastAPI:
    redis = create_redis(settings.redis_url)
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=make_broker(settings, SERVICE),
        pools=[PoolSpec("main", settings.link_issuer_database_url.get_secret_value())],
        migrations=Path(__file__).parent / "migrations",
        redis=redis,
        relay_outbox=True,
    )
    clock = SystemClock()
    links = LinkService(runtime.require_pool, settings, clock)
    register_handlers(runtime.broker, links)
    internal_token = settings.secret("internal_token")
    connections = ConnectionReader("connection-config", settings.connection_config_internal_url, internal_token)
    audit = AuditReader("audit", settings.audit_internal_url, internal_token)
    runtime.components.extend([connections, audit])
    console = Console(
        links=links,
        auth=ConsoleAuth(runtime.require_pool, ConsoleStore(redis), PasswordHashing(), clock, settings),
        pool=runtime.require_pool,
        connections=connections,
        audit=audit,
        clock=clock,
    )
    app = runtime.http_app()
    install_routes(app, runtime, settings, links)
    install_console_api(app, console)
    install_console_pages(app, current_operator)
    return app
