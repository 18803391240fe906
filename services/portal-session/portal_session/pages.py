"""HTTP routes of the portal's pages: what the IT admin sees at /portal/, its static assets, and the pages
a link shows inside a frame or when it is dead. Data comes from the session and from connection-config
(through the same forwarding as the JSON API); HTML comes from views.py and connection_views.py."""
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from portal_session import connection_views, result_views, views
from portal_session.branding import Brand
from portal_session.domain import GONE_LINKS, GoneLink, cookie_policy
from portal_session.embedding import PROBE_COOKIE, PROBE_PARAM, RedeemStep
from portal_session.guides import Guide, load_guides
from portal_session.store import LiveSession, PortalStore
from shared.errors import DomainError, NotFound
from shared.ids import is_id
from shared.link_tokens import LinkClaims
from shared.pages import asset_headers, content_version, page_headers, read_ui_file
from shared.settings import Settings
from shared.timestamps import rfc3339_unix

STATIC_FILES = {"base.css": "text/css", "portal.css": "text/css", "portal.js": "text/javascript", "favicon.svg": "image/svg+xml"}
CONNECTION_STEPS = ("guide", "configure", "review", "done")
# An organization created a moment before its first link may still be on its way through Kafka.
PROFILE_ARRIVAL_WAIT_S = 5.0
PROBE_COOKIE_SECONDS = 300

CurrentSession = Callable[[Request], Awaitable[LiveSession]]
ReadConnections = Callable[[LiveSession, Request, str], Awaitable[httpx.Response]]


def brand_css(brand: Brand) -> bytes:
    return (f":root{{--accent:{brand.accent};--accent-text:{brand.accent_text};"
            f"--accent-ink:{brand.accent_ink}}}\n").encode()




class PortalPages:
    def __init__(
        self,
        settings: Settings,
        portal: PortalStore,
        brand: Brand,
        current_session: CurrentSession,
        read_connections: ReadConnections,
    ) -> None:
        self.settings = settings
        self.portal = portal
        self.brand = brand
        self.current_session = current_session
        self.read_connections = read_connections
        self.guides = load_guides()
        if not {"generic_saml", "generic_oidc"} <= set(self.guides):
            raise RuntimeError("The portal's IdP guides are missing (portal_session/guides -> docs/guides).")
        self.static = {name: read_ui_file("portal_session", name) for name in STATIC_FILES}
        self.static["brand.css"] = brand_css(brand)
        versions = {name: content_version(body) for name, body in self.static.items()}
        assets = {name: f"/portal/static/{name}?v={versions[name]}" for name in STATIC_FILES}
        assets["brand.css"] = f"/portal/brand.css?v={versions['brand.css']}"
        self.site = views.Site(brand, assets)
        self.cookies = cookie_policy(settings.public_url)

    # Responses ---------------------------------------------------------------------------------

    def html(self, body: str, ancestors: list[str], status: int = 200) -> HTMLResponse:
        """A page only the organization's allowed origins may frame (none: not framed at all)."""
        return HTMLResponse(body, status_code=status, headers=page_headers(ancestors, image_origin=self.brand.logo_origin))

    async def profile(self, organization_id: str) -> tuple[str | None, list[str]]:
        deadline = time.monotonic() + PROFILE_ARRIVAL_WAIT_S
        while True:
            name, ancestors = await self.portal.organization_profile(organization_id)
            if name is not None or time.monotonic() > deadline:
                return name, ancestors
            await asyncio.sleep(0.1)

    async def bare_context(self, organization_id: str | None) -> views.PageContext:
        if organization_id is None:
            return views.PageContext()
        name, ancestors = await self.profile(organization_id)
        return views.PageContext(organization_id=organization_id, organization_name=name, frame_ancestors=ancestors)

    async def session_context(self, session: LiveSession) -> views.PageContext:
        name, ancestors = await self.profile(session.organization_id)
        return_url, success_url = await self.portal.link_urls(session.link_id)
        script: dict[str, Any] = {
            "csrf_token": session.csrf_token,
            "session": {
                "id": session.session_id,
                "kind": session.kind,
                "expire_time": rfc3339_unix(session.ends_at),
                "idle_seconds": self.settings.portal_session_idle_seconds,
                "server_time": rfc3339_unix(time.time()),
            },
            "return_url": return_url,
            "success_url": success_url,
        }
        return views.PageContext(session.organization_id, name, ancestors, return_url, script)

    # Pages a link shows before there is a session ----------------------------------------------

    async def gone(self, link: GoneLink, organization_id: str | None) -> HTMLResponse:
        context = await self.bare_context(organization_id)
        return self.html(views.gone_page(self.site, context, link), context.frame_ancestors, status=410)

    async def link_in_frame(self, step: RedeemStep, token: str, claims: LinkClaims) -> HTMLResponse:
        """The cookie check a cross-site frame goes through before its link is spent (embedding.redeem_step)."""
        dead = await self.dead_link_reason(claims)
        if dead is not None:
            return await self.gone(GONE_LINKS[dead], claims.organization_id)
        context = await self.bare_context(claims.organization_id)
        link_path = f"/portal/l/{token}"
        if step == "check_cookies":
            response = self.html(views.cookie_check_page(self.site, f"{link_path}?{PROBE_PARAM}=1"), context.frame_ancestors)
            response.headers.append(
                "set-cookie",
                self.cookies.set_cookie_header(PROBE_COOKIE, "1", max_age=PROBE_COOKIE_SECONDS, path="/portal/l"),
            )
            return response
        return self.html(views.cookies_blocked_page(self.site, context, link_path), context.frame_ancestors)

    async def dead_link_reason(self, claims: LinkClaims) -> str | None:
        """Why a link can no longer open a session, as far as its state shows without spending it (the
        redemption script stays the judge): so a frame never offers a dead link in a new tab."""
        state = await self.portal.link_state(claims.link_id)
        if state in ("used", "revoked"):
            return state
        if claims.expire_time.timestamp() <= time.time():
            return "expired"
        return None

    # Pages of a session --------------------------------------------------------------------------

    def guide_for(self, connection: dict[str, Any]) -> Guide:
        guide = self.guides.get(connection["provider"])
        if guide is None or connection["type"] not in guide.protocols:
            guide = self.guides["generic_saml" if connection["type"] == "saml" else "generic_oidc"]
        return guide

    def install(self, router: APIRouter) -> None:
        @router.get("/static/{name}", include_in_schema=False)
        async def static_file(name: str) -> Response:
            if name not in STATIC_FILES:
                raise NotFound("not_found", "No such file.")
            return Response(self.static[name], media_type=STATIC_FILES[name], headers=asset_headers())

        @router.get("/brand.css", include_in_schema=False)
        async def brand_stylesheet() -> Response:
            return Response(self.static["brand.css"], media_type="text/css", headers=asset_headers())

        @router.get("/", include_in_schema=False)
        async def welcome(request: Request) -> Response:
            return await self.session_page(request, self.render_welcome)

        @router.get("/providers", include_in_schema=False)
        async def providers(request: Request) -> Response:
            return await self.session_page(request, self.render_providers)

        @router.get("/connections/{connection_id}", include_in_schema=False)
        async def manage(connection_id: str, request: Request) -> Response:
            return await self.connection_page(request, connection_id, "manage")

        @router.get("/connections/{connection_id}/tests/{test_id}", include_in_schema=False)
        async def test_result(connection_id: str, test_id: str, request: Request) -> Response:
            return await self.test_result_page(request, connection_id, test_id)

        @router.get("/connections/{connection_id}/{step}", include_in_schema=False)
        async def connection_step(connection_id: str, step: str, request: Request) -> Response:
            return await self.connection_page(request, connection_id, step)

    async def session_page(
        self, request: Request, render: Callable[[Request, LiveSession, views.PageContext], Awaitable[tuple[str, int]]]
    ) -> Response:
        try:
            session = await self.current_session(request)
        except DomainError as error:
            context = views.PageContext()
            return self.html(views.session_over_page(self.site, context, error.code, error.message), [], status=401)
        context = await self.session_context(session)
        try:
            body, status = await render(request, session, context)
        except httpx.HTTPError:
            body = views.message_page(
                self.site, context, page="unavailable", title="Please try again in a moment",
                paragraphs=["Connections are unavailable for a moment. Reload this page shortly."],
            )
            status = 503
        return self.html(body, context.frame_ancestors, status)

    async def render_welcome(self, request: Request, session: LiveSession, context: views.PageContext) -> tuple[str, int]:
        listed = await self.read_connections(session, request, "")
        listed.raise_for_status()
        connections = listed.json()["connections"]
        return views.welcome_page(self.site, context, connections, self.guides, session.session_id), 200

    async def render_providers(self, request: Request, session: LiveSession, context: views.PageContext) -> tuple[str, int]:
        listed = await self.read_connections(session, request, "")
        listed.raise_for_status()
        context.script["drafts"] = [
            {"id": c["id"], "type": c["type"], "provider": c["provider"]}
            for c in listed.json()["connections"] if c["status"] == "draft"
        ]
        return views.providers_page(self.site, context, self.guides), 200

    async def connection_page(self, request: Request, connection_id: str, step: str) -> Response:
        async def render(request: Request, session: LiveSession, context: views.PageContext) -> tuple[str, int]:
            if (step != "manage" and step not in CONNECTION_STEPS) or not is_id(connection_id, "conn"):
                return views.not_found_page(self.site, context), 404
            answer = await self.read_connections(session, request, f"/{connection_id}")
            if answer.status_code == 404:
                return views.not_found_page(self.site, context), 404
            answer.raise_for_status()
            connection = answer.json()["connection"]
            guide = self.guide_for(connection)
            if step == "guide":
                return connection_views.guide_page(self.site, context, guide, connection), 200
            if step == "configure":
                return connection_views.configure_page(self.site, context, guide, connection), 200
            if step == "done" and connection["status"] == "enabled":
                return connection_views.done_page(self.site, context, guide, connection, magic=session.kind == "magic"), 200
            if step in ("review", "done"):  # a connection is "done" only once enabled
                return connection_views.review_page(self.site, context, guide, connection), 200
            return connection_views.manage_page(self.site, context, self.guides.get(connection["provider"]),
                                                connection, session.session_id), 200

        return await self.session_page(request, render)

    async def test_result_page(self, request: Request, connection_id: str, test_id: str) -> Response:
        """Where the IdP's answer to a test lands; another organization's connection or test is not found."""
        async def render(request: Request, session: LiveSession, context: views.PageContext) -> tuple[str, int]:
            if not is_id(connection_id, "conn") or not is_id(test_id, "tst"):
                return views.not_found_page(self.site, context), 404
            answer = await self.read_connections(session, request, f"/{connection_id}")
            tested = await self.read_connections(session, request, f"/{connection_id}/tests/{test_id}")
            if answer.status_code == 404 or tested.status_code == 404:
                return views.not_found_page(self.site, context), 404
            answer.raise_for_status()
            tested.raise_for_status()
            connection = answer.json()["connection"]
            return result_views.result_page(self.site, context, self.guide_for(connection), connection,
                                             tested.json()["test"]), 200

        return await self.session_page(request, render)
