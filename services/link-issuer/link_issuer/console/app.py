"""Wiring for the operator console, a process of its own: link-issuer's Postgres database (no migrations,
no Kafka: its events go into link-issuer's outbox, which link-issuer's relay publishes), Redis for
sessions and sign-in counters, and the clients that read connections and the audit log."""
from functools import partial
from pathlib import Path

from fastapi import FastAPI

import link_issuer
from link_issuer.accounts.passwords import PasswordHashing
from link_issuer.console.api import Console, install_console_api
from link_issuer.console.auth import ConsoleAuth, current_operator
from link_issuer.console.pages import install_console_pages
from link_issuer.console.store import ConsoleStore
from link_issuer.console.upstream import AuditReader, ConnectionReader
from link_issuer.links import LinkService
from shared.health import schema_ready
from shared.ids import SystemClock
from shared.redis_client import create_redis
from shared.runtime import PoolSpec, ServiceRuntime
from shared.settings import Settings

SERVICE = "console"
# link-issuer owns the schema and migrates it; the console is ready once every one of these is applied.
LINK_ISSUER_MIGRATIONS = Path(link_issuer.__file__).parent / "migrations"


def create_app(settings: Settings) -> FastAPI:
    redis = create_redis(settings.redis_url)
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=None,
        pools=[PoolSpec("main", settings.link_issuer_database_url.get_secret_value())],
        redis=redis,
        schema_check=partial(
            schema_ready, owner="link-issuer", namespace="link_issuer", migrations=LINK_ISSUER_MIGRATIONS
        ),
    )
    clock = SystemClock()
    internal_token = settings.secret("internal_token")
    connections = ConnectionReader("connection-config", settings.connection_config_internal_url, internal_token)
    audit = AuditReader("audit", settings.audit_internal_url, internal_token)
    runtime.components.extend([connections, audit])
    console = Console(
        links=LinkService(runtime.require_pool, settings, clock),
        auth=ConsoleAuth(runtime.require_pool, ConsoleStore(redis), PasswordHashing(), clock, settings),
        pool=runtime.require_pool,
        connections=connections,
        audit=audit,
        clock=clock,
    )
    app = runtime.http_app()
    install_console_api(app, console)
    install_console_pages(app, current_operator)
    return app
