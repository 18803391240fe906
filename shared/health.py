"""/healthz (the process answers) and /readyz (every dependency it needs answers) for each service."""
import asyncio
from collections.abc import Awaitable, Callable, Mapping

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

ReadinessCheck = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_S = 1.0


async def postgres_ready(pool: asyncpg.Pool | None) -> bool:
    if pool is None:
        return False
    async with pool.acquire(timeout=CHECK_TIMEOUT_S) as conn:
        return await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_S) == 1


async def redis_ready(redis: Redis) -> bool:
    return bool(await redis.ping())


async def kafka_ready(broker: KafkaBroker) -> bool:
    return await broker.ping(timeout=CHECK_TIMEOUT_S)


async def _run_check(check: ReadinessCheck) -> bool:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT_S * 2)
    except Exception:
        return False


def health_router(service: str, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(_run_check(check) for check in checks.values()))
        status = dict(zip(checks, ("up" if ok else "down" for ok in results), strict=True))
        ready = all(results)
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "service": service, "checks": status},
            status_code=200 if ready else 503,
        )

    return router
