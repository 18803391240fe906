"""HTTP routes of the operator console's pages (/console/…) and its static assets (/console/assets/…).

Every page checks on the server who is signed in and what their role allows before it renders: not signed in →
the sign-in page, a password still to change → the password page, a role without the page → 403. The pages are
shells; console.js fills them from /console/api, which checks the same rules again for every call."""
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from link_issuer.accounts.operators import OperatorPermission, allowed
from link_issuer.console import sections, views
from shared.errors import NotFound
from shared.ids import is_id
from shared.pages import asset_headers, content_version, page_headers, read_ui_file

ASSETS = {"base.css": "text/css", "console.css": "text/css", "console.js": "text/javascript", "favicon.svg": "image/svg+xml"}


class SignedInOperator(Protocol):
    # Read-only members, so a frozen Operator (whose role is a Role, a str) fits.
    @property
    def id(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def must_change_password(self) -> bool: ...


CurrentOperator = Callable[[Request], Awaitable[SignedInOperator | None]]


def viewer_of(operator: SignedInOperator | None) -> views.Viewer:
    if operator is None:
        return views.Viewer()
    role = str(operator.role)
    return views.Viewer(
        operator_id=operator.id,
        email=operator.email,
        role=role,
        permissions=frozenset(p.value for p in OperatorPermission if allowed(role, p)),
        must_change_password=operator.must_change_password,
    )


def home_path(viewer: views.Viewer) -> str | None:
    """The first page in the navigation the role may open."""
    return next((item.path for item in views.NAVIGATION if viewer.may(item.permission)), None)


class ConsolePages:
    def __init__(self, current_operator: CurrentOperator) -> None:
        self.current_operator = current_operator
        self.assets = {name: read_ui_file("link_issuer.console", name) for name in ASSETS}
        self.urls = {name: f"/console/assets/{name}?v={content_version(body)}" for name, body in self.assets.items()}

    def html(self, viewer: views.Viewer, page: views.Page) -> HTMLResponse:
        """A console page: the strict CSP with no frame ancestors (the console is never framed)."""
        return HTMLResponse(views.layout(self.urls, viewer, page), status_code=page.status, headers=page_headers())

    @staticmethod
    def redirect(path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303, headers=page_headers())

    async def guarded(
        self, request: Request, permission: OperatorPermission, render: Callable[[views.Viewer], views.Page]
    ) -> Response:
        """The page for an operator whose role allows `permission`; otherwise where they must go instead."""
        viewer = viewer_of(await self.current_operator(request))
        if viewer.operator_id is None:
            return self.redirect("/console/sign-in?next=" + quote(request.url.path, safe="/"))
        if viewer.must_change_password:
            return self.redirect("/console/password")
        if not viewer.may(permission):
            return self.html(viewer, views.forbidden_page(viewer))
        return self.html(viewer, render(viewer))

    def install(self, router: APIRouter) -> None:
        @router.get("/assets/{name}", include_in_schema=False)
        async def asset(name: str) -> Response:
            if name not in ASSETS:
                raise NotFound("not_found", "No such file.")
            return Response(self.assets[name], media_type=ASSETS[name], headers=asset_headers())

        @router.get("", include_in_schema=False)
        @router.get("/", include_in_schema=False)
        async def start(request: Request) -> Response:
            viewer = viewer_of(await self.current_operator(request))
            if viewer.operator_id is None:
                return self.redirect("/console/sign-in")
            if viewer.must_change_password:
                return self.redirect("/console/password")
            home = home_path(viewer)
            if home is None:
                return self.html(viewer, views.forbidden_page(viewer))
            return self.redirect(home)

        @router.get("/sign-in", include_in_schema=False)
        async def sign_in(request: Request) -> Response:
            viewer = viewer_of(await self.current_operator(request))
            if viewer.operator_id is not None:
                return self.redirect("/console/")
            return self.html(viewer, views.sign_in_page())

        @router.get("/password", include_in_schema=False)
        async def password(request: Request) -> Response:
            viewer = viewer_of(await self.current_operator(request))
            if viewer.operator_id is None:
                return self.redirect("/console/sign-in?next=/console/password")
            return self.html(viewer, views.password_page(forced=viewer.must_change_password))

        @router.get("/organizations", include_in_schema=False)
        async def organizations(request: Request) -> Response:
            return await self.guarded(request, OperatorPermission.ORGANIZATIONS_READ, sections.organizations_page)

        @router.get("/organizations/{organization_id}", include_in_schema=False)
        async def organization(organization_id: str, request: Request) -> Response:
            def render(viewer: views.Viewer) -> views.Page:
                if not is_id(organization_id, "org"):
                    return views.not_found_page()
                return sections.organization_page(viewer, organization_id)

            return await self.guarded(request, OperatorPermission.ORGANIZATIONS_READ, render)

        @router.get("/audit", include_in_schema=False)
        async def audit(request: Request) -> Response:
            return await self.guarded(request, OperatorPermission.AUDIT_READ, lambda _: sections.audit_page())

        @router.get("/api-keys", include_in_schema=False)
        async def api_keys(request: Request) -> Response:
            return await self.guarded(request, OperatorPermission.API_KEYS_MANAGE, lambda _: sections.api_keys_page())

        @router.get("/operators", include_in_schema=False)
        async def operators(request: Request) -> Response:
            return await self.guarded(request, OperatorPermission.OPERATORS_MANAGE, lambda _: sections.operators_page())


def install_console_pages(app: FastAPI, current_operator: CurrentOperator) -> None:
    router = APIRouter(prefix="/console")
    ConsolePages(current_operator).install(router)
    app.include_router(router)
