"""What every service process shares: the FastAPI app shell, request ids and the request log, start-up
retries, and `run`."""
import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import structlog
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing
from shared.errors import install_error_handlers
from shared.logs import configure_logging, redact_path
from shared.metrics import observe_request
from shared.settings import Settings

T = TypeVar("T")
log = structlog.get_logger("shared.service")
request_log = structlog.get_logger("portico.request")
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


# A caller's request id is kept only when it is printable ASCII without spaces, at most 128 characters
# (the proxy applies the same rule): anything else would be a 500 to decode or noise in every log line.
_REQUEST_ID = re.compile(rb"[!-~]{1,128}")


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID when it is a sane id, else a new one."""
    given = next((value for name, value in headers if name == b"x-request-id"), b"")
    return given.decode("ascii") if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestLogMiddleware:
    """Binds X-Request-ID (the proxy's, or a new one) to every log line of the request and echoes it, and
    writes one line per request: method, path (redacted: a link's path is its token), status, duration.
    It replaces uvicorn's access log, which would write the raw path. The same request is counted and timed
    in the process's metrics, by route template (shared/metrics.py), and, when tracing is on, is one SERVER
    span (shared/tracing.py) whose trace id is in the request's log lines too.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a copy per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope["headers"])
        span = tracing.ServerSpan(scope, request_id) if tracing.ENABLED else None
        status = 500  # what the server answers when the app raises before it responds

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                request_log.info(
                    "http.request",
                    method=scope["method"],
                    path=redact_path(scope["path"]),
                    status=status,
                    duration_ms=round(seconds * 1000, 1),
                )
                observe_request(scope, status, seconds)
                if span is not None:
                    span.end(scope, status)


def create_http_app(service: str, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]) -> FastAPI:
    # FastAPI's own telemetry stays off: its spans would carry the raw path (a link's is its token). Portico's
    # request spans are RequestLogMiddleware's.
    app = FastAPI(title=f"Portico {service}", lifespan=lifespan, docs_url=None, redoc_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    install_error_handlers(app)
    app.add_middleware(RequestLogMiddleware)
    return app


def run_service(service: str, create_app: Callable[[Settings], FastAPI], settings: Settings, port: int) -> None:
    """`python -m <service>`: configure logging, build the app, serve it until SIGTERM/SIGINT."""
    configure_logging(service, settings.log_level, settings.log_format)
    if tracing.configure_tracing(service):
        log.info("tracing.on")
    app = create_app(settings)
    config: dict[str, Any] = {
        "host": settings.http_host,
        "port": port,
        "log_config": None,  # our handler on the root logger renders uvicorn's lines too
        "access_log": False,  # RequestLogMiddleware writes the request log, with link tokens redacted
        "timeout_graceful_shutdown": 10,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.trusted_proxy_ips,
    }
    uvicorn.run(app, **config)
