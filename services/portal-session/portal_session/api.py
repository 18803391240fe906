"""HTTP routes of the portal: redeeming a link, the session API, and connections forwarded with the
session's organization (never one taken from the browser). Thin: the flows live in sessions.py
(PortalSessions, whose outcomes the routes translate) and upstream.py; the pages in pages.py."""
import hmac
import re
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from portal_session.branding import brand_from_settings
from portal_session.domain import CSRF_HEADER, GONE_LINKS, SESSION_COOKIE, CookiePolicy, cookie_policy
from portal_session.embedding import PROBE_COOKIE, PROBE_PARAM, redeem_step
from portal_session.pages import PortalPages
from portal_session.sessions import Gone, PortalSessions, Redeemed, Throttled
from portal_session.store import LiveSession, PortalStore
from portal_session.upstream import ConnectionConfigClient, client_address
from shared.errors import Forbidden, NotFound, error_body
from shared.link_tokens import LinkClaims
from shared.settings import Settings
from shared.timestamps import rfc3339_unix

_CONNECTION_PATH = re.compile(r"^(/conn_[0-9a-z]{26}(/(enable|disable|tests(/tst_[0-9a-z]{26})?))?)?$")
_FORWARDED_RESPONSE_HEADERS = ("content-type", "etag")


@dataclass(frozen=True)
class Portal:
    """What the portal's routes call (app.state.portal)."""

    store: PortalStore
    sessions: PortalSessions
    connections: ConnectionConfigClient
    pages: PortalPages
    cookies: CookiePolicy


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


async def current_session(request: Request) -> LiveSession:
    return await portal_of(request).sessions.current(request.cookies.get(SESSION_COOKIE))


Services = Annotated[Portal, Depends(portal_of)]
Session = Annotated[LiveSession, Depends(current_session)]
router = APIRouter(prefix="/portal")


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def require_csrf(request: Request, session: LiveSession) -> None:
    presented = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(presented.encode(), session.csrf_token.encode()):
        raise Forbidden("csrf_failed", f"Send the {CSRF_HEADER} header from GET /portal/api/session.")


async def refused(portal: Portal, request: Request, outcome: Gone | Throttled) -> Response:
    if isinstance(outcome, Throttled):
        body = error_body(
            "too_many_attempts", f"Too many invalid setup links from your address; retry in {outcome.retry_after}s."
        )
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(outcome.retry_after)})
    link = GONE_LINKS[outcome.reason]
    if wants_json(request):
        return JSONResponse(error_body(link.code, f"{link.title}. {link.message}"), status_code=410)
    return await portal.pages.gone(link, outcome.organization_id)


def session_opened(portal: Portal, outcome: Redeemed) -> Response:
    response = RedirectResponse("/portal/", status_code=303)
    max_age = max(1, int(outcome.ends_at - time.time()))
    response.headers.append(
        "set-cookie", portal.cookies.set_cookie_header(SESSION_COOKIE, outcome.cookie, max_age=max_age, path="/portal")
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/l/{token}", include_in_schema=False)
async def redeem_link(token: str, request: Request, portal: Services) -> Response:
    address = client_address(request)
    step = redeem_step(
        fetch_dest=request.headers.get("sec-fetch-dest"),
        fetch_site=request.headers.get("sec-fetch-site"),
        has_probe_cookie=PROBE_COOKIE in request.cookies,
        probe_requested=PROBE_PARAM in request.query_params,
    )
    if step != "redeem" and not wants_json(request):  # a frame's cookie check comes before the link is spent
        link = await portal.sessions.read_link(token, address)
        if isinstance(link, LinkClaims):
            return await portal.pages.link_in_frame(step, token, link)
        return await refused(portal, request, link)
    outcome = await portal.sessions.redeem(token, address, request.headers.get("user-agent"))
    if isinstance(outcome, Redeemed):
        return session_opened(portal, outcome)
    return await refused(portal, request, outcome)


@router.get("/api/session")
async def get_session(session: Session, portal: Services) -> dict[str, object]:
    display_name, _ = await portal.store.organization_profile(session.organization_id)
    return_url, success_url = await portal.store.link_urls(session.link_id)
    return {
        "session": {
            "id": session.session_id,
            "organization": {"id": session.organization_id, "display_name": display_name},
            "link": {"id": session.link_id, "kind": session.kind},
            "expire_time": rfc3339_unix(session.ends_at),
            "csrf_token": session.csrf_token,
            "return_url": return_url,
            "success_url": success_url,
        }
    }


@router.post("/api/setup/complete")
async def complete_setup(request: Request, session: Session, portal: Services) -> dict[str, object]:
    require_csrf(request, session)
    finished = await portal.sessions.complete(session, request.cookies[SESSION_COOKIE], client_address(request))
    return {"ended": finished.ended, "success_url": finished.success_url}


@router.api_route("/api/connections{rest:path}", methods=["GET", "POST", "PATCH", "DELETE"])
async def forward_connections(rest: str, request: Request, session: Session, portal: Services) -> Response:
    if not _CONNECTION_PATH.match(rest):
        raise NotFound("not_found", "No such connection path.")
    if request.method != "GET":
        require_csrf(request, session)
    upstream = await portal.connections.forward(session, request, rest)
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        headers={k: v for k, v in upstream.headers.items() if k.lower() in _FORWARDED_RESPONSE_HEADERS},
    )


def install_routes(
    app: FastAPI, settings: Settings, store: PortalStore, sessions: PortalSessions, connections: ConnectionConfigClient
) -> None:
    pages = PortalPages(settings, store, brand_from_settings(settings), current_session, connections.read)
    app.state.portal = Portal(
        store=store,
        sessions=sessions,
        connections=connections,
        pages=pages,
        cookies=cookie_policy(settings.public_url),
    )
    app.include_router(router)
    page_routes = APIRouter(prefix="/portal")  # per app: the pages' routes close over this app's PortalPages
    pages.install(page_routes)
    app.include_router(page_routes)
