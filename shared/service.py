"""What every service process shares: the FastAPI app shell, request ids, start-up retries, and `run`."""
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import structlog
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import install_error_handlers
from shared.logs import configure_logging
from shared.settings import Settings

T = TypeVar("T")
log = structlog.get_logger("shared.service")
STARTUP_TIMEOUT_S = 60.0


class DependencyUnavailable(RuntimeError):
    pass


async def connect_with_retry(name: str, connect: Callable[[], Awaitable[T]], timeout_s: float = STARTUP_TIMEOUT_S) -> T:
    """Retry `connect` with backoff until it works, so start order between processes does not matter."""
    deadline = time.monotonic() + timeout_s
    delay = 0.1
    while True:
        try:
            return await connect()
        except Exception as error:
            if time.monotonic() + delay > deadline:
                raise DependencyUnavailable(f"{name} not reachable after {timeout_s:.0f}s: {error!r}") from error
            log.warning("startup.waiting_for_dependency", dependency=name, error=repr(error), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class RequestIdMiddleware:
    """Binds X-Request-ID (the proxy's, or a new one) to every log line of the request and echoes it.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a copy per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = next((v.decode() for k, v in scope["headers"] if k == b"x-request-id"), None) or uuid.uuid4().hex

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


def create_http_app(service: str, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]) -> FastAPI:
    app = FastAPI(title=f"Portico {service}", lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    return app


def run_service(service: str, create_app: Callable[[Settings], FastAPI], settings: Settings, port: int) -> None:
    """`python -m <service>`: configure logging, build the app, serve it until SIGTERM/SIGINT."""
    configure_logging(service, settings.log_level, settings.log_format)
    app = create_app(settings)
    config: dict[str, Any] = {
        "host": settings.http_host,
        "port": port,
        "log_config": None,  # our handler on the root logger renders uvicorn's lines too
        "timeout_graceful_shutdown": 10,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.trusted_proxy_ips,
    }
    uvicorn.run(app, **config)
