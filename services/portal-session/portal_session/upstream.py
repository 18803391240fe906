"""The portal's connection calls, made to connection-config as the session: its organization and id are
vouched for with the internal token, never taken from the browser."""
import httpx
from fastapi import Request

from portal_session.store import LiveSession
from shared.errors import Unavailable
from shared.internal_auth import (
    ACTOR_HEADER,
    CLIENT_ADDRESS_HEADER,
    INTERNAL_TOKEN_HEADER,
    ORGANIZATION_HEADER,
    USER_AGENT_HEADER,
    passed_on,
)

PATH = "/internal/portal/connections"
_PASSED_HEADERS = ("content-type", "if-match")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class ConnectionConfigClient:
    """One HTTP client to connection-config (a runtime component: opened and closed with the service)."""

    def __init__(self, base_url: str, internal_token: str) -> None:
        self._base_url = base_url
        self._token = internal_token
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self._base_url, timeout=30.0)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _headers(self, request: Request, session: LiveSession) -> dict[str, str | bytes]:
        return {
            INTERNAL_TOKEN_HEADER: self._token,
            ACTOR_HEADER: f"portal_session:{session.session_id}",
            ORGANIZATION_HEADER: session.organization_id,
            CLIENT_ADDRESS_HEADER: client_address(request),
            USER_AGENT_HEADER: passed_on(request.headers.get("user-agent", "")),
        }

    async def read(self, session: LiveSession, request: Request, rest: str) -> httpx.Response:
        """A GET for a page, as the session."""
        assert self._client is not None
        return await self._client.get(f"{PATH}{rest}", headers=self._headers(request, session))

    async def forward(self, session: LiveSession, request: Request, rest: str) -> httpx.Response:
        """The browser's call passed on as it came (method, query, body, content type, If-Match)."""
        assert self._client is not None
        headers = self._headers(request, session)
        for name in _PASSED_HEADERS:
            if name in request.headers:
                headers[name] = passed_on(request.headers[name])
        try:
            return await self._client.request(
                request.method, f"{PATH}{rest}", params=request.query_params, content=await request.body(), headers=headers
            )
        except httpx.HTTPError:
            raise Unavailable("service_unavailable", "Connections are unavailable for a moment; retry shortly.") from None
