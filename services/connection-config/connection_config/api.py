"""HTTP routes: the portal's internal connections API, the management API list, and public SP metadata."""
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from connection_config.connections import ConnectionService
from connection_config.model import ConnectionNotFound
from connection_config.schemas import CreateConnection, UpdateConnection
from portico_events import Actor
from shared.errors import DomainError, Forbidden, NotFound
from shared.ids import is_id
from shared.internal_auth import Caller, require_caller
from shared.numbers import whole_number

MAX_BODY_BYTES = 2 * 1024 * 1024  # the proxy's cap too; metadata has its own, smaller one
Body = TypeVar("Body", bound=BaseModel)

router = APIRouter()


def connections(request: Request) -> ConnectionService:
    service: ConnectionService = request.app.state.connections
    return service


def actor_of(caller: Caller) -> Actor:
    return Actor(kind=caller.actor_kind, id=caller.actor_id, client_address=caller.client_address,
                 user_agent=caller.user_agent)


@dataclass(frozen=True)
class PortalCaller:
    organization_id: str
    actor: Actor


async def portal_caller(caller: Caller = Depends(require_caller)) -> PortalCaller:
    """A portal session, with the organization portal-session vouched for (never one from the body)."""
    if caller.actor_kind != "portal_session" or not caller.organization_id:
        raise Forbidden("forbidden", "Only a portal session can use this API.")
    return PortalCaller(caller.organization_id, actor_of(caller))


async def management_caller(caller: Caller = Depends(require_caller)) -> Caller:
    if caller.actor_kind not in ("api_key", "operator"):
        raise Forbidden("forbidden", "This API needs an API key.")
    return caller


def _connection_id(value: str) -> str:
    if not is_id(value, "conn"):
        raise ConnectionNotFound()
    return value


def _optional_version(request: Request) -> int | None:
    """The version in If-Match (quotes and W/ optional), or None when the header is absent."""
    value = request.headers.get("if-match")
    if value is None:
        return None
    tag = value.strip().removeprefix("W/").strip().strip('"')
    version = whole_number(tag) if len(tag) <= 9 else None
    if version is None:
        raise DomainError("invalid_if_match", 'If-Match must be the connection\'s version, e.g. If-Match: "3".',
                          status=400)
    return version


def _required_version(request: Request) -> int:
    version = _optional_version(request)
    if version is None:
        raise DomainError("precondition_required",
                          'Send If-Match: "<version>" with the version you last read, so no change is overwritten.',
                          status=428)
    return version


async def read_capped(request: Request) -> bytes:
    """The request's body, refused with 413 once it passes MAX_BODY_BYTES (declared or streamed)."""
    declared = whole_number(request.headers.get("content-length", ""))
    if declared is not None and declared > MAX_BODY_BYTES:
        raise DomainError("body_too_large", "The request body is larger than 2 MiB.", status=413)
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY_BYTES:
            raise DomainError("body_too_large", "The request body is larger than 2 MiB.", status=413)
    return bytes(raw)


async def read_body(request: Request, model: type[Body]) -> Body:
    raw = await read_capped(request)
    if not raw.strip():
        raise DomainError("body_required", "Send a JSON object.", status=400)
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        if first["type"] == "json_invalid":
            raise DomainError("malformed_json", "The request body is not valid JSON.", status=400) from None
        field = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            raise DomainError("unknown_field", f"{field} is not a field Portico knows.", field) from None
        if first["type"] == "model_type" and not field:
            raise DomainError("malformed_json", "The request body must be a JSON object.", status=400) from None
        raise DomainError("invalid_field", f"{field or 'body'}: {first['msg']}", field or None) from None


def _answer(view: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse({"connection": view}, status_code=status, headers={"ETag": f'"{view["version"]}"'})


@router.get("/internal/portal/connections")
async def list_portal_connections(
    caller: PortalCaller = Depends(portal_caller), service: ConnectionService = Depends(connections)
) -> dict[str, Any]:
    views = await service.list_connections(caller.organization_id, caller.actor, require_known_organization=False)
    return {"connections": views}


@router.post("/internal/portal/connections")
async def create_connection(
    request: Request, caller: PortalCaller = Depends(portal_caller), service: ConnectionService = Depends(connections)
) -> JSONResponse:
    body = await read_body(request, CreateConnection)
    return _answer(await service.create(caller.organization_id, caller.actor, body), 201)


@router.get("/internal/portal/connections/{connection_id}")
async def get_connection(
    connection_id: str, caller: PortalCaller = Depends(portal_caller), service: ConnectionService = Depends(connections)
) -> JSONResponse:
    return _answer(await service.get(caller.organization_id, _connection_id(connection_id), caller.actor))


@router.patch("/internal/portal/connections/{connection_id}")
async def update_connection(
    connection_id: str, request: Request, caller: PortalCaller = Depends(portal_caller),
    service: ConnectionService = Depends(connections),
) -> JSONResponse:
    connection_id = _connection_id(connection_id)
    expected = _required_version(request)
    body = await read_body(request, UpdateConnection)
    return _answer(await service.update(caller.organization_id, connection_id, caller.actor, body, expected))


@router.delete("/internal/portal/connections/{connection_id}", status_code=204)
async def delete_connection(
    connection_id: str, request: Request, caller: PortalCaller = Depends(portal_caller),
    service: ConnectionService = Depends(connections),
) -> Response:
    connection_id = _connection_id(connection_id)
    await service.transition(caller.organization_id, connection_id, caller.actor, "deleted",
                             _optional_version(request))
    return Response(status_code=204)


@router.post("/internal/portal/connections/{connection_id}/{action}")
async def change_status(
    connection_id: str, action: str, request: Request, caller: PortalCaller = Depends(portal_caller),
    service: ConnectionService = Depends(connections),
) -> JSONResponse:
    states = {"enable": "enabled", "disable": "disabled"}
    if action not in states:
        raise NotFound("not_found", "No such action; use enable or disable.")
    connection_id = _connection_id(connection_id)
    view = await service.transition(caller.organization_id, connection_id, caller.actor, states[action],
                                    _optional_version(request))
    return _answer(view)


@router.get("/api/v1/organizations/{organization_id}/connections")
async def list_organization_connections(
    organization_id: str, caller: Caller = Depends(management_caller), service: ConnectionService = Depends(connections)
) -> dict[str, Any]:
    if not is_id(organization_id, "org"):
        raise NotFound("not_found", "No such organization.")
    try:
        views = await service.list_connections(organization_id, actor_of(caller), require_known_organization=True)
    except ConnectionNotFound:
        raise NotFound("not_found", "No such organization.") from None
    return {"connections": views}


@router.get("/sso/saml/{connection_id}/metadata", response_class=Response, responses={200: {
    "description": "Portico's SAML service provider metadata for this connection",
    "content": {"application/samlmetadata+xml": {}},
}})
async def service_provider_metadata(
    connection_id: str, service: ConnectionService = Depends(connections)
) -> Response:
    document = await service.service_provider_metadata(_connection_id(connection_id))
    return Response(document, media_type="application/samlmetadata+xml",
                    headers={"Content-Disposition": f'inline; filename="portico-{connection_id}-sp-metadata.xml"'})
