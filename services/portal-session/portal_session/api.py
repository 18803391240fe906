"""HTTP routes of the portal: redeeming a link, the session API, and connections forwarded with the
session's organization (never one taken from the browser)."""
import hashlib
import hmac
import re
import time
from datetime import UTC, datetime
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from portal_session.branding import brand_from_settings
from portal_session.domain import (
    CSRF_HEADER,
    GONE_LINKS,
    SESSION_COOKIE,
    SESSION_OVER,
    SOURCE,
    cookie_policy,
)
from portal_session.embedding import PROBE_COOKIE, PROBE_PARAM, redeem_step
from portal_session.pages import PortalPages
from portal_session.redemption import Redemptions, Refused
from portal_session.store import LiveSession, PortalStore, organization_profile, session_key
from portico_events import Actor, CloudEvent, PortalSessionEnded
from shared.errors import APIError, error_body
from shared.ids import Clock
from shared.internal_auth import (
    ACTOR_HEADER,
    CLIENT_ADDRESS_HEADER,
    INTERNAL_TOKEN_HEADER,
    ORGANIZATION_HEADER,
    USER_AGENT_HEADER,
    passed_on,
)
from shared.link_tokens import InvalidLinkToken, LinkClaims, read_link_token
from shared.redis_outbox import RedisOutboxRelay
from shared.settings import Settings

_CONNECTION_PATH = re.compile(r"^(/conn_[0-9a-z]{26}(/(enable|disable))?)?$")
_FORWARDED_RESPONSE_HEADERS = ("content-type", "etag")


class ConnectionConfigClient:
    """The HTTP client portal-session forwards connection calls with (a runtime component)."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self.client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self.client = httpx.AsyncClient(base_url=self._base_url, timeout=30.0)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def install_routes(
    app: FastAPI,
    settings: Settings,
    portal: PortalStore,
    relay: RedisOutboxRelay,
    connections: ConnectionConfigClient,
    redemptions: Redemptions,
    clock: Clock,
) -> None:
    signing_key = settings.secret("link_signing_key").encode()
    cookies = cookie_policy(settings.public_url)
    internal_token = settings.secret("internal_token")
    router = APIRouter(prefix="/portal")

    async def link_gone(request: Request, reason: str, claims: LinkClaims | None) -> Response:
        link = GONE_LINKS[reason]
        if wants_json(request):
            return JSONResponse(error_body(link.code, f"{link.title}. {link.message}"), status_code=410)
        return await pages.gone(link, claims.organization_id if claims else None)

    def too_many_attempts(retry_after: int) -> Response:
        body = error_body("too_many_attempts", f"Too many invalid setup links from your address; retry in {retry_after}s.")
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(retry_after)})

    async def throttled(address: str) -> Response | None:
        if await portal.redemption_failures(address) >= settings.redeem_failures_per_minute:
            return too_many_attempts(await portal.failure_window_left(address))
        return None

    @router.get("/l/{token}", include_in_schema=False)
    async def redeem_link(token: str, request: Request) -> Response:
        # Only guesses are throttled: a token with our signature was issued by us, so an address over its
        # failure limit (a shared office or carrier address) still opens the links it was given.
        address = client_address(request)
        try:
            claims = read_link_token(token, signing_key)
        except InvalidLinkToken:
            if refusal := await throttled(address):
                return refusal
            await portal.count_redemption_failure(address)
            return await link_gone(request, "invalid", None)
        step = redeem_step(
            fetch_dest=request.headers.get("sec-fetch-dest"),
            fetch_site=request.headers.get("sec-fetch-site"),
            has_probe_cookie=PROBE_COOKIE in request.cookies,
            probe_requested=PROBE_PARAM in request.query_params,
        )
        if step != "redeem" and not wants_json(request):
            return await pages.link_in_frame(step, token, claims)
        outcome = await redemptions.redeem(token, claims, address, request.headers.get("user-agent"))
        if isinstance(outcome, Refused):
            if outcome.reason == "invalid":  # signed by us yet unknown to link-issuer
                await portal.count_redemption_failure(address)
            return await link_gone(request, outcome.reason, claims)
        relay.wake()
        response = RedirectResponse("/portal/", status_code=303)
        response.headers.append(
            "set-cookie",
            cookies.set_cookie_header(
                SESSION_COOKIE, outcome.cookie, max_age=max(1, int(outcome.ends_at - time.time())), path="/portal"
            ),
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def current_session(request: Request) -> LiveSession:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise APIError(401, "no_session", SESSION_OVER["none"])
        outcome = await portal.touch_session(hashlib.sha256(cookie.encode()).hexdigest(), settings.portal_session_idle_seconds)
        if isinstance(outcome, str):
            raise APIError(401, "session_ended", SESSION_OVER[outcome])
        return outcome

    Session = Annotated[LiveSession, Depends(current_session)]

    def require_csrf(request: Request, session: LiveSession) -> None:
        presented = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(presented.encode(), session.csrf_token.encode()):
            raise APIError(403, "csrf_failed", f"Send the {CSRF_HEADER} header from GET /portal/api/session.")

    @router.get("/api/session")
    async def get_session(session: Session) -> dict[str, object]:
        display_name, _ = await organization_profile(portal.redis, session.organization_id)
        return_url, success_url = await portal.link_urls(session.link_id)
        return {
            "session": {
                "id": session.session_id,
                "organization": {"id": session.organization_id, "display_name": display_name},
                "link": {"id": session.link_id, "kind": session.kind},
                "expire_time": clock_iso(session.ends_at),
                "csrf_token": session.csrf_token,
                "return_url": return_url,
                "success_url": success_url,
            }
        }

    @router.post("/api/setup/complete")
    async def complete_setup(request: Request, session: Session) -> dict[str, object]:
        require_csrf(request, session)
        _, success_url = await portal.link_urls(session.link_id)
        if session.kind != "magic":
            return {"ended": False, "success_url": success_url}
        cookie = request.cookies[SESSION_COOKIE]
        ended = CloudEvent.wrap(
            PortalSessionEnded(
                organization_id=session.organization_id,
                session_id=session.session_id,
                link_id=session.link_id,
                reason="setup_completed",
                actor=Actor(kind="portal_session", id=session.session_id, client_address=client_address(request)),
            ),
            source=SOURCE,
            time=clock.now(),
        )
        await portal.end_session(session_key(hashlib.sha256(cookie.encode()).hexdigest()), ended.to_bytes())
        relay.wake()
        return {"ended": True, "success_url": success_url}

    def vouched_headers(request: Request, session: LiveSession) -> dict[str, str | bytes]:
        return {
            INTERNAL_TOKEN_HEADER: internal_token,
            ACTOR_HEADER: f"portal_session:{session.session_id}",
            ORGANIZATION_HEADER: session.organization_id,
            CLIENT_ADDRESS_HEADER: client_address(request),
            USER_AGENT_HEADER: passed_on(request.headers.get("user-agent", "")),
        }

    async def read_connections(session: LiveSession, request: Request, rest: str) -> httpx.Response:
        """A GET on connection-config for a page, as the session (the same vouching as forwarding)."""
        assert connections.client is not None
        return await connections.client.get(f"/internal/portal/connections{rest}", headers=vouched_headers(request, session))

    pages = PortalPages(settings, portal, brand_from_settings(settings), current_session, read_connections)

    @router.api_route("/api/connections{rest:path}", methods=["GET", "POST", "PATCH", "DELETE"])
    async def forward_connections(rest: str, request: Request, session: Session) -> Response:
        if not _CONNECTION_PATH.match(rest):
            raise APIError(404, "not_found", "No such connection path.")
        if request.method != "GET":
            require_csrf(request, session)
        headers = vouched_headers(request, session)
        for name in ("content-type", "if-match"):
            if name in request.headers:
                headers[name] = passed_on(request.headers[name])
        assert connections.client is not None
        try:
            upstream = await connections.client.request(
                request.method,
                f"/internal/portal/connections{rest}",
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        except httpx.HTTPError:
            raise APIError(503, "service_unavailable", "Connections are unavailable for a moment; retry shortly.") from None
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k.lower() in _FORWARDED_RESPONSE_HEADERS},
        )

    pages.install(router)
    app.include_router(router)


def clock_iso(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).isoformat()
