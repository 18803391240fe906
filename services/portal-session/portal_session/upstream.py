"""The portal's connection calls, made to connection-config as the session: its organization and id are
vouched for with the internal token, never taken from the browser."""
import httpx
from fastapi import Request

from portal_session.store import LiveSession
from portico_events import Actor
from shared.errors import Unavailable
from shared.internal_auth import ORGANIZATION_HEADER, USER_AGENT_HEADER, passed_on
from shared.internal_http import InternalClient

PATH = "/internal/portal/connections"
_PASSED_HEADERS = ("content-type", "if-match")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class ConnectionConfigClient(InternalClient):
    """connection-config, called as the session (a runtime component: opened and closed with the service)."""

    def __init__(self, base_url: str, internal_token: str) -> None:
        super().__init__("connection-config", base_url, internal_token)

    def _session_headers(self, request: Request, session: LiveSession) -> dict[str, str | bytes]:
        headers = self._headers(Actor(kind="portal_session", id=session.session_id, client_address=client_address(request)))
        headers[ORGANIZATION_HEADER] = session.organization_id
        # Always sent, as the browser sent it: an empty or missing user agent reaches the audit as "", not null.
        headers[USER_AGENT_HEADER] = passed_on(request.headers.get("user-agent", ""))
        return headers

    async def read(self, session: LiveSession, request: Request, rest: str) -> httpx.Response:
        """A GET for a page, as the session."""
        # str and bytes values mixed, which httpx takes though its hints do not (see InternalClient._headers).
        return await self.client.get(f"{PATH}{rest}", headers=self._session_headers(request, session))  # type: ignore[arg-type]

    async def forward(self, session: LiveSession, request: Request, rest: str) -> httpx.Response:
        """The browser's call passed on as it came (method, query, body, content type, If-Match)."""
        headers = self._session_headers(request, session)
        for name in _PASSED_HEADERS:
            if name in request.headers:
                headers[name] = passed_on(request.headers[name])
        try:
            return await self.client.request(
                request.method, f"{PATH}{rest}", params=request.query_params, content=await request.body(),
                headers=headers,  # type: ignore[arg-type]  # str and bytes values mixed, as in read()
            )
        except httpx.HTTPError:
            raise Unavailable("service_unavailable", "Connections are unavailable for a moment; retry shortly.") from None
