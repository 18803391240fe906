"""/healthz (the process answers) and /readyz (every dependency it needs answers) for each service."""
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from shared.db import pending_migrations
from shared.metrics import exposition

ReadinessCheck = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_S = 1.0


async def postgres_ready(pool: asyncpg.Pool | None) -> bool:
    if pool is None:
        return False
    async with pool.acquire(timeout=CHECK_TIMEOUT_S) as conn:
        return bool(await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_S) == 1)


async def redis_ready(redis: Redis) -> bool:
    return bool(await redis.ping())


async def kafka_ready(broker: KafkaBroker, connect_problem: str | None) -> bool:
    """Kafka answers; before the broker has connected once, say why it has not."""
    if connect_problem is not None:
        raise DependencyDown(connect_problem)
    if not await broker.ping(timeout=CHECK_TIMEOUT_S):
        raise DependencyDown(f"no answer within {CHECK_TIMEOUT_S:.0f}s")
    return True


class DependencyDown(Exception):
    """A readiness check's own words for why a dependency is down."""


async def schema_ready(pool: asyncpg.Pool | None, owner: str, namespace: str, migrations: Path) -> bool:
    """The database has every migration `owner` (the service that owns it) applies: a process that only uses
    the schema is not ready before its owner has made it."""
    if pool is None:
        return False
    pending = await pending_migrations(pool, namespace, migrations, CHECK_TIMEOUT_S)
    if pending:
        raise DependencyDown(f"waiting for {owner} to migrate the database: {', '.join(pending)} not applied yet")
    return True


async def _run_check(check: ReadinessCheck) -> str | None:
    """None when the dependency is up, else why it is not (an operator reads this in /readyz)."""
    try:
        if await asyncio.wait_for(check(), CHECK_TIMEOUT_S * 2):
            return None
        return "check failed"
    except DependencyDown as problem:
        return str(problem)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S * 2:.0f}s"
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:300]


def health_router(service: str, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @router.get("/metrics")
    async def metrics() -> Response:
        """Prometheus's scrape of this process (shared/metrics.py); not routed by the proxy."""
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        problems = dict(zip(checks, await asyncio.gather(*(_run_check(check) for check in checks.values())), strict=True))
        body: dict[str, object] = {
            "status": "not_ready" if any(problems.values()) else "ready",
            "service": service,
            "checks": {name: "down" if problem else "up" for name, problem in problems.items()},
        }
        if any(problems.values()):
            body["problems"] = {name: problem for name, problem in problems.items() if problem}
        return JSONResponse(body, status_code=503 if any(problems.values()) else 200)

    return router
