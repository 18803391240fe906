"""A request that meets a dependency on its way down (Postgres stopping, Redis gone) answers a clean
503 the client can retry, never a 500: found by `make chaos` stopping Postgres and Redis mid-load."""
import asyncpg
import httpx
import pytest
import redis.exceptions
from fastapi import FastAPI

from shared.errors import install_error_handlers

FAILURES = {
    "postgres-refused": ConnectionRefusedError(111, "Connection refused"),
    "postgres-shutting-down": asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
    "postgres-admin-shutdown": asyncpg.exceptions.AdminShutdownError("terminating connection"),
    "postgres-connection-lost": asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    "redis-refused": redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379."),
    "redis-timeout": redis.exceptions.TimeoutError("Timeout reading from socket"),
    "pool-timeout": TimeoutError(),
}


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fail/{name}")
    async def fail(name: str) -> None:
        raise FAILURES[name]

    return app


@pytest.mark.parametrize("name", sorted(FAILURES))
async def test_a_dependency_that_is_down_answers_503_json_with_retry_after(name: str):
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(f"/fail/{name}")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response.headers["retry-after"] == "1"
