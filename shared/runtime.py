"""A service's resources (Postgres pools, Redis, Kafka broker, outbox relay) and the lifespan that opens them."""
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
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
from shared.consumers import Consumers
from shared.db import apply_migrations, create_pool
from shared.health import ReadinessCheck, health_router, kafka_ready, postgres_ready, redis_ready
from shared.metrics import event_loop_monitor, record_service
from shared.outbox import OutboxRelay
from shared.periodic import Periodic
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


@dataclass(frozen=True)
class PoolSpec:
    """A Postgres pool a service opens at start-up: the name its code asks for, the role's DSN, its size."""

    name: str
    dsn: str
    min_size: int = 1
    max_size: int = 10

    def create(self) -> asyncpg.Pool:
        """The pool, unopened: awaiting it connects."""
        return create_pool(self.dsn, min_size=self.min_size, max_size=self.max_size)


# For a service on a database another one migrates: is the schema there yet (health.schema_ready)?
SchemaCheck = Callable[[asyncpg.Pool | None], Awaitable[bool]]


class Component(Protocol):
    """Something a service runs beside its HTTP server (a relay, a client pool): started after the
    broker is up, stopped before it goes down."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ServiceRuntime:
    """Everything a service process holds open. Pools are made in the lifespan, on the serving loop.

    The first of `pools` is the service's main one: /readyz checks it, the outbox relay reads it, and
    migrations run through it unless `migrate_as` names a role of their own (an owner role the pools'
    roles are kept apart from), used for them alone and closed before the service serves. Without
    `migrations` none run, the shared ones included: the service uses a database another one owns and
    migrates (the console on link-issuer's), and `schema_check` tells /readyz whether it is there yet.

    Without a `broker` the service neither consumes nor publishes: /readyz does not ask for Kafka, and
    what it writes to an outbox is published by the relay of the service that owns the database.
    """

    name: str
    settings: Settings
    broker: KafkaBroker | None
    pools: list[PoolSpec] = field(default_factory=list)
    migrations: Path | None = None
    migrate_as: str | None = None
    redis: Redis | None = None
    relay_outbox: bool = False
    components: list[Component] = field(default_factory=list)
    schema_check: SchemaCheck | None = None
    open_pools: dict[str, asyncpg.Pool] = field(default_factory=dict, init=False)
    relay: OutboxRelay | None = field(default=None, init=False)
    # Why the broker has not connected yet (None once it has): /readyz shows it, e.g. a SASL failure.
    kafka_problem: str | None = field(default="not connected yet", init=False)
    _kafka_connect: asyncio.Task[None] | None = field(default=None, init=False)
    # The consumer groups it reads (declared by its handlers module with `consumers.batches`).
    consumers: Consumers = field(init=False)
    loop_monitor: Periodic = field(default_factory=event_loop_monitor, init=False)

    def __post_init__(self) -> None:
        if self.relay_outbox and self.broker is None:
            raise ValueError(f"{self.name}: an outbox relay publishes to Kafka; it needs a broker")
        self.consumers = Consumers(self.settings, self.name)
        record_service(self.name)

    @property
    def main_pool(self) -> asyncpg.Pool | None:
        return self.open_pools.get(self.pools[0].name) if self.pools else None

    def require_pool(self, name: str | None = None) -> asyncpg.Pool:
        """The open pool called `name` (the main one by default); subscribers start only after the pools
        are open, so a missing one here is a wiring bug."""
        pool = self.main_pool if name is None else self.open_pools.get(name)
        if pool is None:
            raise RuntimeError(f"{self.name}: Postgres pool {name or 'main'!r} used before start-up opened it")
        return pool

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        checks: dict[str, ReadinessCheck] = {}
        if (broker := self.broker) is not None:
            checks["kafka"] = lambda: kafka_ready(broker, self.kafka_problem)
        if self.pools:
            checks["postgres"] = lambda: postgres_ready(self.main_pool)
        if (schema_check := self.schema_check) is not None:
            checks["schema"] = lambda: schema_check(self.main_pool)
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

    async def _open_postgres(self) -> None:
        namespace = self.name.replace("-", "_")
        migrations = self.migrations
        if migrations is not None and self.migrate_as is not None:
            owner_dsn = self.migrate_as
            owner = await connect_with_retry("postgres", lambda: create_pool(owner_dsn, min_size=1, max_size=1))
            try:
                await apply_migrations(owner, namespace, migrations)
            finally:
                await owner.close()
        for spec in self.pools:
            self.open_pools[spec.name] = await connect_with_retry("postgres", spec.create)
        if migrations is not None and self.migrate_as is None and self.pools:
            await apply_migrations(self.require_pool(), namespace, migrations)

    async def _open(self) -> None:
        self.loop_monitor.start()
        await self._open_postgres()  # before Kafka, so no message arrives without its tables
        if self.redis is not None:
            redis = self.redis
            await connect_with_retry("redis", redis.ping)
        if self.broker is not None:
            # Kafka connects in the background: the service answers /readyz (with the reason) meanwhile,
            # and what it publishes waits in its outbox.
            self._kafka_connect = asyncio.create_task(self._connect_kafka(self.broker), name="kafka-connect")
            if self.relay_outbox and self.main_pool is not None:
                self.relay = OutboxRelay(
                    self.main_pool, self.broker, poll_interval_s=self.settings.outbox_poll_interval_ms / 1000,
                    outbox=self.name,
                )
                self.relay.start()
        for component in self.components:
            component.start()
        self.consumers.start()  # last: a handler may use any of the above

    async def _connect_kafka(self, broker: KafkaBroker) -> None:
        delay = 0.1
        while True:
            try:
                await broker.start()
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
        await self.consumers.stop()
        for component in reversed(self.components):
            await component.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.broker is not None:
            try:
                await asyncio.wait_for(self.broker.stop(), BROKER_STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("kafka.stop_timed_out", service=self.name, timeout_s=BROKER_STOP_TIMEOUT_S)
        if self.redis is not None:
            await self.redis.aclose()
        for pool in reversed(list(self.open_pools.values())):
            await pool.close()
        await self.loop_monitor.stop()

    def http_app(self) -> FastAPI:
        app = create_http_app(self.name, self.lifespan)
        app.state.runtime = self
        app.include_router(health_router(self.name, self.readiness_checks()))
        return app
