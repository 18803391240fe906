"""A service's resources (Postgres pool, Redis, Kafka broker, outbox relay) and the lifespan that opens them."""
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg
import structlog
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from shared.broker import diagnose_kafka
from shared.db import apply_migrations, create_pool
from shared.health import ReadinessCheck, health_router, kafka_ready, postgres_ready, redis_ready
from shared.outbox import OutboxRelay
from shared.service import connect_with_retry, create_http_app
from shared.settings import Settings

log = structlog.get_logger("shared.runtime")
# A broker whose connection never came up can hang in stop(); shutdown must still finish.
BROKER_STOP_TIMEOUT_S = 10.0


def describe_kafka_error(error: Exception) -> str:
    """A one-line reason an operator can act on (aiokafka's own messages are often just 'bootstrap')."""
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__ or error.__context__
    if cause is not None:
        text += f" (caused by {type(cause).__name__}: {cause})"
    return text[:300]


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
    # Why the broker has not connected yet (None once it has): /readyz shows it, e.g. a SASL failure.
    kafka_problem: str | None = field(default="not connected yet", init=False)
    _kafka_connect: asyncio.Task[None] | None = field(default=None, init=False)

    def require_pool(self) -> asyncpg.Pool:
        """The open pool; subscribers start only after it is open, so None here is a wiring bug."""
        if self.pool is None:
            raise RuntimeError(f"{self.name}: Postgres pool used before start-up opened it")
        return self.pool

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {"kafka": lambda: kafka_ready(self.broker, self.kafka_problem)}
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
        # Kafka connects in the background: the service answers /readyz (with the reason) meanwhile,
        # and what it publishes waits in its outbox.
        self._kafka_connect = asyncio.create_task(self._connect_kafka(), name="kafka-connect")
        if self.relay_outbox and self.pool is not None:
            self.relay = OutboxRelay(
                self.pool, self.broker, poll_interval_s=self.settings.outbox_poll_interval_ms / 1000
            )
            self.relay.start()
        for component in self.components:
            component.start()

    async def _connect_kafka(self) -> None:
        delay = 0.1
        while True:
            try:
                await self.broker.start()
                self.kafka_problem = None
                log.info("kafka.connected", service=self.name)
                return
            except Exception as error:
                self.kafka_problem = await diagnose_kafka(self.settings) or describe_kafka_error(error)
                log.warning("kafka.not_connected", problem=self.kafka_problem, retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _close(self) -> None:
        if self._kafka_connect is not None:
            self._kafka_connect.cancel()
            with suppress(asyncio.CancelledError):
                await self._kafka_connect  # a connection attempt still under way ends before the broker stops
        for component in reversed(self.components):
            await component.stop()
        if self.relay is not None:
            await self.relay.stop()
        try:
            await asyncio.wait_for(self.broker.stop(), BROKER_STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("kafka.stop_timed_out", service=self.name, timeout_s=BROKER_STOP_TIMEOUT_S)
        if self.redis is not None:
            await self.redis.aclose()
        if self.pool is not None:
            await self.pool.close()

    def http_app(self) -> FastAPI:
        app = create_http_app(self.name, self.lifespan)
        app.state.runtime = self
        app.include_router(health_router(self.name, self.readiness_checks()))
        return app
