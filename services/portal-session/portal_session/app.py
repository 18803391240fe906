"""Wiring for portal-session: Redis for link and session state (and its event outbox), Kafka for link
events, the client that forwards connection calls to connection-config, the one that checks links with
link-issuer, and PortalSessions, the flows the routes and subscribers call."""
from fastapi import FastAPI

from portal_session.api import install_routes
from portal_session.handlers import register_handlers
from portal_session.redemption import LinkIssuer
from portal_session.sessions import PortalSessions
from portal_session.store import OUTBOX_KEY, PortalStore
from portal_session.upstream import ConnectionConfigClient
from shared.broker import make_broker
from shared.ids import SystemClock
from shared.redis_client import create_redis
from shared.redis_outbox import RedisOutboxRelay
from shared.runtime import ServiceRuntime
from shared.settings import Settings

SERVICE = "portal-session"


def create_app(settings: Settings) -> FastAPI:
    broker = make_broker(settings, SERVICE)
    redis = create_redis(settings.redis_url)
    portal = PortalStore(redis)
    relay = RedisOutboxRelay(
        redis, broker, OUTBOX_KEY, outbox="portal-session", poll_interval_s=settings.outbox_poll_interval_ms / 1000
    )
    internal_token = settings.secret("internal_token")
    connections = ConnectionConfigClient(settings.connection_config_internal_url, internal_token)
    issuer = LinkIssuer("link-issuer", settings.link_issuer_internal_url, internal_token)
    clock = SystemClock()
    runtime = ServiceRuntime(
        name=SERVICE, settings=settings, broker=broker, redis=redis, components=[relay, connections, issuer]
    )
    sessions = PortalSessions(portal, issuer, relay, settings, clock)
    register_handlers(runtime.consumers, portal, sessions)
    app = runtime.http_app()
    install_routes(app, settings, portal, sessions, connections)
    return app
