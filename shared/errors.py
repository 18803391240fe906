"""Portico's domain errors and the one place they, and every other failure, become HTTP answers:
{"error": {"code", "message", "field"?, ...}} with a 4xx (or 503) status.

The exception classes need nothing from FastAPI, so domain modules raise them; install_error_handlers
maps them (and validation, routing, dependency and unexpected errors) to responses.
"""
from typing import Any

import asyncpg
import redis.exceptions
import structlog
from asyncpg.exceptions import CharacterNotInRepertoireError, UntranslatableCharacterError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.logs import redact_path

log = structlog.get_logger("shared.errors")


class DomainError(Exception):
    """A request Portico refuses: `code`, `message`, `field` (the dotted path of what to change) and any
    `extra` members reach the caller in the error body, with `status` (422 unless the class or the raiser
    says otherwise) and `headers`."""

    status = 422

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extra = extra


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Unavailable(DomainError):
    """Portico or a service it calls cannot do this right now; the same request may work shortly."""

    status = 503


class RetryLater(DomainError):
    """Refused for `retry_after_s` seconds (a lockout, a full queue): said in the body and in Retry-After."""

    def __init__(self, code: str, message: str, retry_after_s: int, *, status: int) -> None:
        super().__init__(code, message, status=status, headers={"Retry-After": str(retry_after_s)},
                         retry_after=retry_after_s)
        self.retry_after_s = retry_after_s


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    error.update(extra)
    return {"error": error}


def _dotted(location: tuple[Any, ...]) -> str:
    # FastAPI prefixes body errors with "body"; the contract names fields from the body's root.
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[-1] if location else "")


async def _domain_error(_: Request, error: DomainError) -> JSONResponse:
    return JSONResponse(error_body(error.code, error.message, error.field, **error.extra), status_code=error.status,
                        headers=error.headers)


async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    field = _dotted(tuple(first.get("loc", ())))
    code = "malformed_json" if first.get("type") == "json_invalid" else "invalid_field"
    return JSONResponse(error_body(code, f"{field}: {first.get('msg', 'invalid value')}", field), status_code=422)


async def _http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
        error.status_code, "http_error"
    )
    return JSONResponse(error_body(code, str(error.detail)), status_code=error.status_code, headers=error.headers)


# A dependency that is down, restarting or refusing connections (Postgres stopping or starting up, Redis
# gone, a pool that cannot hand out a connection in time): the request changed nothing it could not
# roll back, and a retry in a moment will do. Never a 500.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


async def _dependency_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("http.dependency_unavailable", path=redact_path(request.url.path), error=f"{type(error).__name__}: {error}"[:200])
    return JSONResponse(
        error_body("service_unavailable", "A service Portico depends on is unavailable for a moment; retry shortly."),
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _interface_error(request: Request, error: Exception) -> JSONResponse:
    """asyncpg says "the underlying connection is closed" when Postgres went away mid-transaction;
    its other interface errors are bugs."""
    if "connection is closed" in str(error):
        return await _dependency_unavailable(request, error)
    return await _unexpected_error(request, error)


async def _client_protocol_error(request: Request, error: Exception) -> JSONResponse:
    """asyncpg's InternalClientError: a pooled connection left mid-operation, seen when Postgres shut down
    under a request (make chaos). The pool discards that connection, so a retry works: 503, not 500,
    but logged as an error with its traceback, because the same error from a live database is a bug."""
    log.error("http.postgres_client_state_error", path=redact_path(request.url.path), error=repr(error), exc_info=error)
    return await _dependency_unavailable(request, error)


async def _text_postgres_cannot_hold(_: Request, __: Exception) -> JSONResponse:
    # Postgres refuses NUL (\u0000) in text and JSON; only a caller's input can carry one there.
    return JSONResponse(error_body("invalid_characters", "Text must not contain NUL (\\u0000) characters."), 400)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.error("http.unhandled_error", path=redact_path(request.url.path), error=repr(error), exc_info=error)
    return JSONResponse(error_body("internal_error", "Something went wrong on our side; it has been logged."), 500)


def install_error_handlers(app: FastAPI) -> None:
    # Starlette's hint wants handlers of any Exception; it calls each only with the class it is registered for.
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    for dependency_error in DEPENDENCY_ERRORS:
        app.add_exception_handler(dependency_error, _dependency_unavailable)
    app.add_exception_handler(asyncpg.InterfaceError, _interface_error)
    app.add_exception_handler(asyncpg.exceptions._base.InternalClientError, _client_protocol_error)
    app.add_exception_handler(CharacterNotInRepertoireError, _text_postgres_cannot_hold)
    app.add_exception_handler(UntranslatableCharacterError, _text_postgres_cannot_hold)
    app.add_exception_handler(Exception, _unexpected_error)
