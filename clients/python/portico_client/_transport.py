"""Sending one API call: authentication, user agent, timeouts, and retries only where repeating is safe."""
import asyncio
import platform
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from portico_client.errors import PorticoConnectionError, error_from_response, retry_after_seconds
from portico_client.version import __version__

USER_AGENT = f"portico-client-python/{__version__} (httpx/{httpx.__version__}; python/{platform.python_version()})"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# GET, PUT and DELETE leave the same state however often they run (a repeated PUT of a magic link only
# issues another link nobody has seen); a POST may have created something before its answer was lost.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
# Raised before a byte of the request left this machine, so any request may be sent again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Call:
    """One management API request, independent of sync or async."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    timeout: httpx.Timeout | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a call again.

    Retried: connection failures that happened before sending (any method); 429, honouring Retry-After
    up to `max_retry_after` seconds (any method: Portico refused the request before acting on it);
    503 and failures after sending only for idempotent methods. Backoff doubles from `base_delay` up to
    `max_delay`, with jitter so many clients do not retry in step.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def backoff(self, retry: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2

    def after_error(self, call: Call, error: httpx.TransportError, retry: int) -> float | None:
        """Seconds to wait before retry number `retry` after a transport error, or None to give up."""
        if retry > self.max_retries:
            return None
        if isinstance(error, NOT_SENT) or call.method in IDEMPOTENT_METHODS:
            return self.backoff(retry)
        return None

    def after_response(self, call: Call, response: httpx.Response, retry: int) -> float | None:
        if retry > self.max_retries:
            return None
        if response.status_code == 429:
            asked = retry_after_seconds(response)
            if asked is None:
                return self.backoff(retry)
            return asked if asked <= self.max_retry_after else None
        if response.status_code == 503 and call.method in IDEMPOTENT_METHODS:
            asked = retry_after_seconds(response)
            return min(asked, self.max_retry_after) if asked is not None else self.backoff(retry)
        return None


def _connection_error(error: httpx.TransportError, base_url: httpx.URL) -> PorticoConnectionError:
    return PorticoConnectionError(f"cannot reach Portico at {base_url}: {error!r}", code="connection_failed")


def _client_options(base_url: str, api_key: str, timeout: httpx.Timeout | float) -> dict[str, Any]:
    if not api_key:
        raise ValueError("an API key is required (make one with: portico api-keys create --name NAME)")
    return {
        "base_url": base_url.rstrip("/"),
        "headers": {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"},
        "timeout": timeout,
    }


def _request(client: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
    return client.build_request(
        call.method, call.path, params=call.params, json=call.json,
        timeout=call.timeout if call.timeout is not None else client.timeout,
    )


class SyncTransport:
    def __init__(
        self, base_url: str, api_key: str, *, timeout: httpx.Timeout | float, retry: RetryPolicy,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry = retry
        self._client = httpx.Client(**_client_options(base_url, api_key, timeout), transport=transport)
        self.base_url = self._client.base_url

    def close(self) -> None:
        self._client.close()

    def send(self, call: Call) -> httpx.Response:
        with self.stream(call) as response:
            response.read()
            return response

    @contextmanager
    def stream(self, call: Call) -> Iterator[httpx.Response]:
        """The first successful answer, its body not read yet; an error answer raises its PorticoError."""
        for retry in range(1, self.retry.max_retries + 2):
            try:
                response = self._client.send(_request(self._client, call), stream=True)
            except httpx.TransportError as error:
                delay = self.retry.after_error(call, error, retry)
                if delay is None:
                    raise _connection_error(error, self._client.base_url) from error
                time.sleep(delay)
                continue
            if response.status_code < 400:
                try:
                    yield response
                finally:
                    response.close()
                return
            response.read()
            response.close()
            delay = self.retry.after_response(call, response, retry)
            if delay is None:
                raise error_from_response(response)
            time.sleep(delay)
        raise AssertionError("unreachable: the last retry either answers or raises")


class AsyncTransport:
    def __init__(
        self, base_url: str, api_key: str, *, timeout: httpx.Timeout | float, retry: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retry
        self._client = httpx.AsyncClient(**_client_options(base_url, api_key, timeout), transport=transport)
        self.base_url = self._client.base_url

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, call: Call) -> httpx.Response:
        async with self.stream(call) as response:
            await response.aread()
            return response

    @asynccontextmanager
    async def stream(self, call: Call) -> AsyncIterator[httpx.Response]:
        for retry in range(1, self.retry.max_retries + 2):
            try:
                response = await self._client.send(_request(self._client, call), stream=True)
            except httpx.TransportError as error:
                delay = self.retry.after_error(call, error, retry)
                if delay is None:
                    raise _connection_error(error, self._client.base_url) from error
                await asyncio.sleep(delay)
                continue
            if response.status_code < 400:
                try:
                    yield response
                finally:
                    await response.aclose()
                return
            await response.aread()
            await response.aclose()
            delay = self.retry.after_response(call, response, retry)
            if delay is None:
                raise error_from_response(response)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last retry either answers or raises")
