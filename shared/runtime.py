"""A service's resources (Postgres pool, Redis, Kafka broker, outbox relay) and the lifespan that opens them."""
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from shared.db import apply_migrations, create_pool
from shared.health import ReadinessCheck, health_router, kafka_check, postgres_check, redis_check
from shared.outbox import OutboxRelay
from shared.service import connect_with_retry, create_http_app
from shared.settings import Settings

log = structlog.get_logger("shared.runtime")


@dataclass
class ServiceRuntime:
    """Everything a service process holds open. Objects are built lazily and connected at start-up."""

    name: str
    settings: Settings
    broker: KafkaBroker
    database_url: str | None = None
    migrations: Path | None = None
    redis: Redis | None = None
    relay_outbox: bool = False
    pool: asyncpg.Pool | None = field(default=None, init=False)
    relay: OutboxRelay | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.database_url:
            self.pool = create_pool(self.database_url)

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {"kafka": kafka_check(self.broker)}
        if self.pool is not None:
            checks["postgres"] = postgres_check(self.pool)
        if self.redis is not None:
            checks["redis"] = redis_check(self.redis)
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
        if self.pool is not None:
            pool = self.pool

            async def open_pool() -> None:
                await pool  # opens the pool once; later attempts just re-check below
                await pool.fetchval("SELECT 1")

            await connect_with_retry("postgres", open_pool)
            await apply_migrations(pool, self.name.replace("-", "_"), self.migrations or Path("/nonexistent"))
        if self.redis is not None:
            redis = self.redis
            await connect_with_retry("redis", redis.ping)
        await connect_with_retry("kafka", self.broker.start)
        if self.relay_outbox and self.pool is not None:
            self.relay = OutboxRelay(
                self.pool, self.broker, poll_interval_s=self.settings.outbox_poll_interval_ms / 1000
            )
            self.relay.start()

    async def _close(self) -> None:
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
