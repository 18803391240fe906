"""Calls from one Portico service to another over the internal network: one client per sibling, vouched
for with the internal token and the caller as X-Portico-Actor; a sibling that does not answer is a 503."""
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from portico_events import Actor
from shared import tracing
from shared.errors import DomainError, Unavailable
from shared.internal_auth import ACTOR_HEADER, CLIENT_ADDRESS_HEADER, INTERNAL_TOKEN_HEADER, USER_AGENT_HEADER, passed_on


@dataclass(frozen=True)
class Upstream:
    """A JSON answer from another service, passed on as it came (status and body)."""

    status: int
    body: Any


@dataclass(frozen=True)
class Export:
    content_type: str
    content_disposition: str
    chunks: AsyncIterator[bytes]


class InternalClient:
    """One HTTP client to one sibling service (a runtime component: opened and closed with the service)."""

    def __init__(self, service: str, base_url: str, internal_token: str) -> None:
        self._service = service
        self._base_url = base_url
        self._token = internal_token
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self._base_url, timeout=httpx.Timeout(30.0, connect=2.0))

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _headers(self, actor: Actor) -> dict[str, str | bytes]:
        """The vouching headers. A client's own value passed on is bytes (see `passed_on`), the rest str: httpx
        takes the two mixed, though its hints want one kind per mapping, hence the calls' `type: ignore[arg-type]`."""
        headers: dict[str, str | bytes] = {INTERNAL_TOKEN_HEADER: self._token, ACTOR_HEADER: actor.reference}
        if actor.client_address:
            headers[CLIENT_ADDRESS_HEADER] = actor.client_address
        if actor.user_agent:
            headers[USER_AGENT_HEADER] = passed_on(actor.user_agent)
        if tracing.ENABLED:  # the sibling's request span continues this trace
            headers.update(tracing.current_trace_headers())
        return headers

    def _unavailable(self, status: int = 503, body: bytes = b"") -> DomainError:
        """The service's own error when it gave one (e.g. audit's 503 `busy`), else a plain 503."""
        try:
            error = httpx.Response(status, content=body).json()["error"]
            return DomainError(str(error["code"]), str(error["message"]), status=status)
        except (ValueError, KeyError, TypeError):
            return Unavailable("service_unavailable", f"The {self._service} service did not answer; retry shortly.")

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError(f"{self._service} client used before start-up opened it")
        return self._client

    async def get_json(self, path: str, actor: Actor, params: Mapping[str, str] | None = None) -> Upstream:
        request = self.client.build_request("GET", path, params=params, headers=self._headers(actor))  # type: ignore[arg-type]
        return await self._json(request)

    async def post_json(self, path: str, actor: Actor, body: Mapping[str, Any]) -> Upstream:
        request = self.client.build_request("POST", path, json=body, headers=self._headers(actor))  # type: ignore[arg-type]
        return await self._json(request)

    async def _json(self, request: httpx.Request) -> Upstream:
        """The sibling's JSON answer below 500; a 5xx, no answer or no JSON is a 503 (or the sibling's own error)."""
        try:
            response = await self.client.send(request)
        except httpx.HTTPError:
            raise self._unavailable() from None
        if response.status_code >= 500:
            raise self._unavailable(response.status_code, response.content)
        try:
            return Upstream(response.status_code, response.json())
        except ValueError:
            raise self._unavailable() from None

    async def stream(self, path: str, actor: Actor, params: Mapping[str, str]) -> Upstream | Export:
        """A download passed on chunk by chunk as it arrives (never held whole), or the JSON error."""
        request = self.client.build_request("GET", path, params=params, headers=self._headers(actor))  # type: ignore[arg-type]
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError:
            raise self._unavailable() from None
        if response.status_code != 200:
            body = await response.aread()
            await response.aclose()
            if response.status_code >= 500:
                raise self._unavailable(response.status_code, body)
            return Upstream(response.status_code, httpx.Response(response.status_code, content=body).json())

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            finally:
                await response.aclose()

        return Export(
            response.headers.get("content-type", "application/octet-stream"),
            response.headers.get("content-disposition", "attachment"),
            chunks(),
        )
