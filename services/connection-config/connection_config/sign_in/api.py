"""HTTP routes of sign-in: the browser's hops (authorize, the IdP's answers, a test's start), the app's code
exchange, and the portal's connection tests. Included before connection_config.api's router."""
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict

from connection_config.api import MAX_BODY_BYTES, PortalCaller, portal_caller, read_body
from connection_config.sign_in.attempts import AuthorizeQuery, Redirect, SignIns
from connection_config.sign_in.domain import SignInRequestInvalid
from portico_events import Actor
from shared.errors import DomainError, Forbidden
from shared.internal_auth import Caller, require_caller
from shared.numbers import whole_number

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
    declared = whole_number(request.headers.get("content-length", ""))
    if declared is not None and declared > MAX_BODY_BYTES:
        raise DomainError("body_too_large", "The request body is larger than 2 MiB.", status=413)
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY_BYTES:
            raise DomainError("body_too_large", "The request body is larger than 2 MiB.", status=413)
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
