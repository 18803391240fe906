"""`Portico(url, api_key)` and `AsyncPortico(url, api_key)`: the management API from Python."""
from types import TracebackType

import httpx

from portico_client._transport import DEFAULT_TIMEOUT, AsyncTransport, RetryPolicy, SyncTransport
from portico_client.resources import (
    AsyncAudit,
    AsyncConnections,
    AsyncOrganizations,
    AsyncSso,
    Audit,
    Connections,
    Organizations,
    Sso,
)


class Portico:
    """Synchronous client. Use it as a context manager, or call close(), to release its connections.

    `timeout` is httpx's (default 30 s, 5 s to connect; audit export and verify wait up to 10 minutes
    between bytes); `retry` says when a failed call is sent again (see RetryPolicy); `transport` lets
    tests and proxies plug in an httpx transport.
    """

    def __init__(
        self, url: str, api_key: str, *, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None, transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._transport = SyncTransport(url, api_key, timeout=timeout, retry=retry or RetryPolicy(), transport=transport)
        self.organizations = Organizations(self._transport)
        self.connections = Connections(self._transport)
        self.audit = Audit(self._transport)
        self.sso = Sso(self._transport)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "Portico":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()


class AsyncPortico:
    """The same API for asyncio: every call is awaited, `audit.events()` is an async iterator."""

    def __init__(
        self, url: str, api_key: str, *, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._transport = AsyncTransport(url, api_key, timeout=timeout, retry=retry or RetryPolicy(), transport=transport)
        self.organizations = AsyncOrganizations(self._transport)
        self.connections = AsyncConnections(self._transport)
        self.audit = AsyncAudit(self._transport)
        self.sso = AsyncSso(self._transport)

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> "AsyncPortico":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()
