"""A service's resources (Postgres pool, Redis, Kafka broker, outbox relay) and the lifespan that opens them."""
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg
import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from shared.db import apply_migrations, create_pool
from shared.health import ReadinessCheck, health_router, kafka_ready, postgres_ready, redis_ready
from shared.outbox import OutboxRelay
from shared.service import connect_with_retry, create_http_app
from shared.settings import Settings

log = structlog.get_logger("shared.runtime")


class Component(Protocol):
    """Something a service runs beside its HTTP server (a relay, a client pool): started after the
    broker is up, stopped before it goes down."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ServiceRuntime:
    """Everything a service process holds open. The pool is made in the lifespan, on the serving loop."""

    name: str
    settings: Settings
    broker: KafkaBroker
    database_url: str | None = None
    migrations: Path | None = None
    redis: Redis | None = None
    relay_outbox: bool = False
    components: list[Component] = field(default_factory=list)
    pool: asyncpg.Pool | None = field(default=None, init=False)
    relay: OutboxRelay | None = field(default=None, init=False)

    def require_pool(self) -> asyncpg.Pool:
        """The open pool; subscribers start only after it is open, so None here is a wiring bug."""
        if self.pool is None:
            raise RuntimeError(f"{self.name}: Postgres pool used before start-up opened it")
        return self.pool

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {"kafka": lambda: kafka_ready(self.broker)}
        if self.database_url is not None:
            checks["postgres"] = lambda: postgres_ready(self.pool)
        if self.redis is not None:
            redis = self.redis
            checks["redis"] = lambda: redis_ready(redis)
        return checks

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self._open()
        log.info("service.started", service=self.name)
        try:
            yield
        finally:
            await self._close()
            log.info("service.stopped", service=self.name)

    async def _open(self) -> None:
        if self.database_url is not None:
            dsn = self.database_url
            self.pool = await connect_with_retry("postgres", lambda: create_pool(dsn))
            await apply_migrations(self.pool, self.name.replace("-", "_"), self.migrations)
        if self.redis is not None:
            redis = self.redis
            await connect_with_retry("redis", redis.ping)
        await connect_with_retry("kafka", self.broker.start)
        if self.relay_outbox and self.pool is not None:
            self.relay = OutboxRelay(
                self.pool, self.broker, poll_interval_s=self.settings.outbox_poll_interval_ms / 1000
            )
            self.relay.start()
        for component in self.components:
            component.start()

    async def _close(self) -> None:
        for component in reversed(self.components):
            await component.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.broker.stop()
        if self.redis is not None:
            await self.redis.aclose()
        if self.pool is not None:
            await self.pool.close()

    def http_app(self) -> FastAPI:
        app = create_http_app(self.name, self.lifespan)
        app.state.runtime = self
        app.include_router(health_router(self.name, self.readiness_checks()))
        return app
