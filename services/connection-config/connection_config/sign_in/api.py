"""HTTP routes of sign-in: the browser's hops (authorize, the IdP's answers, a test's start), the app's code
exchange, and the portal's connection tests. Included before connection_config.api's router."""
import base64
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict

from connection_config.api import PortalCaller, management_caller, portal_caller, read_body, read_capped
from connection_config.sign_in import store
from connection_config.sign_in.attempts import AuthorizeQuery, Redirect, SignIns
from connection_config.sign_in.domain import SignInRequestInvalid
from portico_events import Actor
from shared.errors import DomainError, Forbidden, NotFound
from shared.ids import is_id
from shared.internal_auth import Caller, require_caller
from shared.numbers import page_limit
from shared.timestamps import rfc3339, rfc3339_or_none

router = APIRouter()


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str


def sign_ins(request: Request) -> SignIns:
    service: SignIns = request.app.state.sign_ins
    return service


def browser(request: Request) -> Actor:
    return Actor(kind="system", client_address=request.client.host if request.client else None,
                 user_agent=(request.headers.get("user-agent") or "")[:256] or None)


def _see_other(outcome: Redirect) -> RedirectResponse:
    return RedirectResponse(outcome.url, status_code=303, headers={"Cache-Control": "no-store",
                                                                    "Referrer-Policy": "no-referrer"})


async def api_key_caller(caller: Caller = Depends(require_caller)) -> Caller:
    if caller.actor_kind != "api_key":
        raise Forbidden("forbidden", "Exchanging a sign-in code needs a management API key.")
    return caller


@router.get("/sso/v1/authorize")
async def authorize(request: Request, service: SignIns = Depends(sign_ins)) -> RedirectResponse:
    query = request.query_params
    outcome = await service.authorize(AuthorizeQuery(
        organization_id=query.get("organization_id") or None, connection_id=query.get("connection_id") or None,
        redirect_uri=query.get("redirect_uri"), state=query.get("state"),
    ), browser(request))
    return _see_other(outcome)


@router.get("/sso/v1/tests/{test_id}")
async def begin_test(test_id: str, service: SignIns = Depends(sign_ins)) -> RedirectResponse:
    return _see_other(await service.begin_test(test_id))


async def _form(request: Request) -> dict[str, str]:
    """The IdP's auto-submitted form (application/x-www-form-urlencoded), capped like every body."""
    raw = await read_capped(request)
    try:
        return dict(parse_qsl(raw.decode("ascii"), max_num_fields=20))
    except (UnicodeDecodeError, ValueError):
        raise SignInRequestInvalid("malformed_form", "Post the SAMLResponse as an HTML form would.",
                                   "SAMLResponse") from None


@router.post("/sso/saml/{connection_id}/acs", openapi_extra={"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["SAMLResponse", "RelayState"],
                                                     "properties": {"SAMLResponse": {"type": "string"},
                                                                    "RelayState": {"type": "string"}}}}}}})
async def assertion_consumer_service(
    connection_id: str, request: Request, service: SignIns = Depends(sign_ins)
) -> RedirectResponse:
    form = await _form(request)
    return _see_other(await service.finish_saml(connection_id, form.get("SAMLResponse"), form.get("RelayState")))


@router.get("/sso/oidc/{connection_id}/callback")
async def oidc_callback(connection_id: str, request: Request, service: SignIns = Depends(sign_ins)) -> RedirectResponse:
    params = {name: request.query_params[name] for name in ("code", "state", "error", "error_description")
              if name in request.query_params}
    return _see_other(await service.finish_oidc(connection_id, params))


@router.post("/api/v1/sso/token", openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": TokenRequest.model_json_schema()}}}})
async def exchange_code(
    request: Request, _: Caller = Depends(api_key_caller), service: SignIns = Depends(sign_ins)
) -> JSONResponse:
    body = await read_body(request, TokenRequest)
    profile = await service.redeem(body.code)
    return JSONResponse({"profile": profile}, headers={"Cache-Control": "no-store"})


@router.post("/internal/portal/connections/{connection_id}/tests", status_code=201)
async def start_test(
    connection_id: str, caller: PortalCaller = Depends(portal_caller), service: SignIns = Depends(sign_ins)
) -> dict[str, Any]:
    return {"test": await service.start_test(caller.organization_id, connection_id, caller.actor)}


@router.get("/internal/portal/connections/{connection_id}/tests/{test_id}")
async def test_result(
    connection_id: str, test_id: str, caller: PortalCaller = Depends(portal_caller),
    service: SignIns = Depends(sign_ins),
) -> dict[str, Any]:
    return {"test": await service.test_result(caller.organization_id, connection_id, test_id)}


LIST_FILTERS = {"kind": ("sign_in", "test"), "status": ("pending", "succeeded", "failed")}
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def _encode_cursor(row: asyncpg.Record) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, attempt_id = raw.partition("|")
        parsed = datetime.fromisoformat(moment)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if parsed is None or parsed.tzinfo is None or not attempt_id:
        raise DomainError("invalid_cursor", "cursor: not a cursor this API returned.", "cursor", status=400)
    return parsed, attempt_id


def _list_filter(request: Request, name: str) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in LIST_FILTERS[name]:
        raise DomainError(f"invalid_{name}", f"{name}: one of {', '.join(LIST_FILTERS[name])}.", name, status=400)
    return value


def attempt_summary(row: asyncpg.Record) -> dict[str, Any]:
    """One attempt as a list shows it: who and when, the error code; never an answer's data or a secret."""
    summary: dict[str, Any] = {
        "id": row["id"], "kind": row["kind"], "status": row["status"], "connection_id": row["connection_id"],
        "connection_version": row["connection_version"], "organization_id": row["organization_id"],
        "created_at": rfc3339(row["created_at"]), "finished_at": rfc3339_or_none(row["finished_at"]),
        "duration_ms": (round((row["finished_at"] - row["created_at"]).total_seconds() * 1000)
                        if row["finished_at"] is not None else None),
    }
    if row["error_code"] is not None:
        summary.update(error_code=row["error_code"], fix_in=row["error_fix_in"])
    if row["status"] == "succeeded":
        summary.update(subject=row["subject"], email=row["email"])
    return summary


def _query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


LIST_PARAMETERS = [
    _query_parameter("connection_id", "Only this connection's attempts.", {"type": "string"}),
    _query_parameter("kind", "An app's sign-ins or the portal's tests.", {"enum": list(LIST_FILTERS["kind"])}),
    _query_parameter("status", "Only attempts in this status.", {"enum": list(LIST_FILTERS["status"])}),
    _query_parameter("limit", f"At most this many (default {DEFAULT_LIMIT}).",
                     {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    _query_parameter("cursor", "The next_cursor of the page before.", {"type": "string"}),
]


@router.get("/api/v1/organizations/{organization_id}/sign_ins", openapi_extra={"parameters": LIST_PARAMETERS})
async def list_sign_ins(
    organization_id: str, request: Request, _: Caller = Depends(management_caller),
    service: SignIns = Depends(sign_ins),
) -> dict[str, Any]:
    """An organization's sign-in attempts and connection tests, newest first (the API and the console)."""
    if not is_id(organization_id, "org"):
        raise NotFound("not_found", "No such organization.")
    connection_id = request.query_params.get("connection_id") or None
    if connection_id is not None and not is_id(connection_id, "conn"):
        raise DomainError("invalid_connection_id", "connection_id: a connection id (conn_…).", "connection_id",
                          status=400)
    cursor = request.query_params.get("cursor")
    limit = page_limit(request.query_params.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT, code="invalid_limit")
    rows = await store.list_attempts(
        service.pool(), organization_id, connection_id=connection_id, kind=_list_filter(request, "kind"),
        status=_list_filter(request, "status"), before=_decode_cursor(cursor) if cursor else None, limit=limit + 1,
    )
    page = rows[:limit]
    return {"sign_ins": [attempt_summary(row) for row in page],
            "next_cursor": _encode_cursor(page[-1]) if len(rows) > limit else None}
