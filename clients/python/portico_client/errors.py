"""Errors the client raises: one class per kind of answer, each with status, code, field and message."""
from typing import Any

import httpx


class PorticoError(Exception):
    """Portico said no (status is the HTTP status) or could not be reached (status is None)."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str = "error", field: str | None = None,
        details: dict[str, Any] | None = None, request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.details = details or {}  # the whole error object, e.g. current_version for version_mismatch
        self.request_id = request_id

    def __str__(self) -> str:
        where = f", field {self.field}" if self.field else ""
        status = f", HTTP {self.status}" if self.status is not None else ""
        return f"{self.message} ({self.code}{status}{where})"


class PorticoConnectionError(PorticoError):
    """No answer: the connection failed or timed out (after the retries that were safe)."""


class InvalidRequestError(PorticoError):
    """400 or 422: a field is wrong; `field` names it as a dotted path."""


class AuthenticationError(PorticoError):
    """401: the API key is missing, unknown or revoked."""


class PermissionDeniedError(PorticoError):
    """403: this caller may not do this."""


class NotFoundError(PorticoError):
    """404: no such organization, link or connection (for this caller)."""


class ConflictError(PorticoError):
    """409: e.g. an organization with this external_id exists."""


class VersionMismatchError(PorticoError):
    """412: the resource changed since the version given; `current_version` is the one to use."""

    @property
    def current_version(self) -> int | None:
        value = self.details.get("current_version")
        return value if isinstance(value, int) else None


class VersionRequiredError(PorticoError):
    """428: the change needs If-Match with the version it is based on."""


class RateLimitError(PorticoError):
    """429: too many requests; `retry_after` is how many seconds Portico asked to wait, when it said."""

    @property
    def retry_after(self) -> float | None:
        return self.details.get("retry_after")


class ServiceUnavailableError(PorticoError):
    """503: that part of Portico is starting, down or busy."""


class ServerError(PorticoError):
    """Another 5xx: a fault on Portico's side (it was logged there)."""


_BY_STATUS: dict[int, type[PorticoError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: VersionMismatchError,
    422: InvalidRequestError,
    428: VersionRequiredError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After in seconds (Portico sends delta-seconds; an HTTP date is not worth guessing at)."""
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def error_from_response(response: httpx.Response) -> PorticoError:
    """The exception for an error answer, from Portico's `{"error": {"code", "message", "field"?}}` body."""
    try:
        body = response.json()
        error = body["error"] if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
    except ValueError:
        error = {}
    details = dict(error)
    if response.status_code == 429:
        details.setdefault("retry_after", retry_after_seconds(response))
    kind = _BY_STATUS.get(response.status_code) or (ServerError if response.status_code >= 500 else PorticoError)
    return kind(
        str(error.get("message") or f"HTTP {response.status_code} {response.reason_phrase}".strip()),
        status=response.status_code,
        code=str(error.get("code") or f"http_{response.status_code}"),
        field=error.get("field") if isinstance(error.get("field"), str) else None,
        details=details,
        request_id=response.headers.get("x-request-id"),
    )
