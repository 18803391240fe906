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
    "postgres-connection-left-mid-operation": asyncpg.exceptions._base.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"),  # seen in CI as Postgres stopped
    "postgres-closed-mid-transaction": asyncpg.InterfaceError(
        "cannot call Transaction.__aexit__(): the underlying connection is closed"),
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


async def test_other_asyncpg_interface_errors_are_still_bugs_answered_500():
    app = make_app()

    @app.get("/misuse")
    async def misuse() -> None:
        raise asyncpg.InterfaceError("cannot perform operation: another operation is in progress")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/misuse")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
