"""The console's role matrix, enforced on the server: every /console/api route × every role → allowed or 403
(404 only for roles allowed to look), derived from the app itself so a route without a rule fails here."""
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from link_issuer.accounts.operators import Operator, Role
from link_issuer.console.api import Console, install_console_api
from link_issuer.console.auth import ConsoleSession, current_session
from shared.errors import NotFound, install_error_handlers

ADMIN, SUPPORT, AUDITOR = "admin", "support", "auditor"
EVERYONE = {ADMIN, SUPPORT, AUDITOR}
CSRF = "csrf-token-of-the-session"
MISSING = "org_missing"

# (method, path) → the roles that may call it. "public" is the sign-in itself.
RULES: dict[tuple[str, str], set[str] | str] = {
    ("POST", "/console/api/session"): "public",
    ("GET", "/console/api/session"): EVERYONE,
    ("DELETE", "/console/api/session"): EVERYONE,
    ("POST", "/console/api/password"): EVERYONE,
    ("GET", "/console/api/organizations"): {SUPPORT, ADMIN},
    ("POST", "/console/api/organizations"): {SUPPORT, ADMIN},
    ("GET", "/console/api/organizations/{organization_id}"): {SUPPORT, ADMIN},
    ("GET", "/console/api/organizations/{organization_id}/connections"): {SUPPORT, ADMIN},
    ("GET", "/console/api/organizations/{organization_id}/sign_ins"): {SUPPORT, ADMIN},
    ("GET", "/console/api/organizations/{organization_id}/links"): {SUPPORT, ADMIN},
    ("POST", "/console/api/organizations/{organization_id}/links"): {SUPPORT, ADMIN},
    ("DELETE", "/console/api/organizations/{organization_id}/links/{link_id}"): {SUPPORT, ADMIN},
    ("GET", "/console/api/audit/events"): {AUDITOR, ADMIN},
    ("GET", "/console/api/audit/verify"): {AUDITOR, ADMIN},
    ("GET", "/console/api/audit/export"): {AUDITOR, ADMIN},
    ("GET", "/console/api/api-keys"): {ADMIN},
    ("POST", "/console/api/api-keys"): {ADMIN},
    ("DELETE", "/console/api/api-keys/{key_id}"): {ADMIN},
    ("GET", "/console/api/operators"): {ADMIN},
    ("POST", "/console/api/operators"): {ADMIN},
    ("POST", "/console/api/operators/{operator_id}/disable"): {ADMIN},
    ("POST", "/console/api/operators/{operator_id}/reset-password"): {ADMIN},
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/console/api/session"): {"email": "ana@example.com", "password": "a password"},
    ("POST", "/console/api/password"): {"current_password": "old password!", "new_password": "a new password"},
    ("POST", "/console/api/organizations"): {"display_name": "Acme"},
    ("POST", "/console/api/organizations/{organization_id}/links"): {"kind": "shareable"},
    ("POST", "/console/api/api-keys"): {"name": "billing"},
    ("POST", "/console/api/operators"): {"email": "new@example.com", "role": "support"},
}
OWN_ACCOUNT_ROUTES = {key for key, roles in RULES.items() if roles == EVERYONE}


class Reached(Exception):
    """The handler ran: the request got past authentication, CSRF and the role check."""


class Backend:
    """Stands in for every collaborator: any call reaches it; an organization called `org_missing` does not exist."""

    def __getattr__(self, name: str) -> Any:
        def called(*args: Any, **_: Any) -> Any:
            if MISSING in args:
                raise NotFound("organization_not_found", f"No organization {MISSING}.", "organization_id")
            raise Reached(name)

        return called

    def __call__(self) -> Any:  # console.pool()
        raise Reached("pool")


def session_of(role: str, must_change_password: bool = False) -> ConsoleSession:
    operator = Operator(id=f"opr_{role}", email=f"{role}@example.com", role=Role(role),
                        must_change_password=must_change_password, disabled=False, created_at=datetime.now(UTC))
    return ConsoleSession(token="token", operator=operator, csrf_token=CSRF)


def build_app() -> tuple[FastAPI, list[APIRoute]]:
    app = FastAPI()
    install_error_handlers(app)

    async def reached(_: Request, __: Exception) -> JSONResponse:
        return JSONResponse({"reached": True}, status_code=299)

    app.add_exception_handler(Reached, reached)
    backend = Backend()
    console = Console(links=backend, auth=backend, pool=backend, connections=backend, audit=backend,  # type: ignore[arg-type]
                      clock=backend)
    router = install_console_api(app, console)
    return app, [route for route in router.routes if isinstance(route, APIRoute)]


APP, ROUTES = build_app()
CALLS = sorted((method, route.path) for route in ROUTES for method in route.methods)
CLIENT = TestClient(APP, raise_server_exceptions=False)
ALLOWED = {200, 299}  # answered by the route itself, or it reached a collaborator


def call(session: ConsoleSession | None, method: str, path: str, organization_id: str = "org_1",
         csrf: str | None = CSRF) -> Any:
    APP.dependency_overrides[current_session] = lambda: session
    url = (path.replace("{organization_id}", organization_id).replace("{link_id}", "lnk_1")
           .replace("{key_id}", "key_1").replace("{operator_id}", "opr_other"))
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return CLIENT.request(method, url, json=BODIES.get((method, path)), headers=headers)


@pytest.fixture(autouse=True)
def _clear_overrides() -> Iterator[None]:
    yield
    APP.dependency_overrides.clear()


def test_every_console_api_route_has_a_rule_and_every_rule_a_route():
    assert set(CALLS) == set(RULES)


@pytest.mark.parametrize("role", sorted(EVERYONE))
@pytest.mark.parametrize(("method", "path"), [c for c in CALLS if RULES[c] != "public"])
def test_role_is_allowed_exactly_where_the_matrix_says(role: str, method: str, path: str):
    answer = call(session_of(role), method, path)
    if role in RULES[(method, path)]:
        assert answer.status_code in ALLOWED, answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", sorted(EVERYONE))
@pytest.mark.parametrize(("method", "path"), [c for c in CALLS if "{organization_id}" in c[1]])
def test_unknown_organization_is_404_only_for_roles_that_may_look(role: str, method: str, path: str):
    answer = call(session_of(role), method, path, organization_id=MISSING)
    expected = 404 if role in RULES[(method, path)] else 403  # the others learn nothing about existence
    assert answer.status_code == expected, answer.text


@pytest.mark.parametrize(("method", "path"), [c for c in CALLS if RULES[c] != "public"])
def test_without_a_session_every_route_answers_401(method: str, path: str):
    answer = call(None, method, path)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "not_signed_in"


@pytest.mark.parametrize(("method", "path"), [c for c in CALLS if RULES[c] != "public" and c[0] != "GET"])
def test_every_state_change_needs_the_csrf_token(method: str, path: str):
    for wrong in (None, "not-the-token"):
        answer = call(session_of(ADMIN), method, path, csrf=wrong)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "csrf_failed"


@pytest.mark.parametrize(("method", "path"), [c for c in CALLS if RULES[c] != "public"])
def test_a_password_that_must_change_allows_only_the_own_account_routes(method: str, path: str):
    answer = call(session_of(ADMIN, must_change_password=True), method, path)
    if (method, path) in OWN_ACCOUNT_ROUTES:
        assert answer.status_code in ALLOWED
    else:
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "password_change_required"


def test_sign_in_needs_neither_session_nor_csrf():
    assert call(None, "POST", "/console/api/session", csrf=None).status_code == 299
