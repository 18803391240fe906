"""Wiring for portal-session: Redis for link and session state, Kafka for link events."""
from fastapi import FastAPI

from shared.broker import make_broker
from shared.redis_client import create_redis
from shared.runtime import ServiceRuntime
from shared.settings import Settings

SERVICE = "portal-session"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        broker=make_broker(settings, SERVICE),
        redis=create_redis(settings.redis_url),
    )
    return runtime.http_app()
