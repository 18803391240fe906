"""The operator console's JSON API under /console/api: every route names the permission it needs (`Permit`),
checked on the server after the session and, for every state change, the CSRF token.

Organizations and links go through links.LinkService, the same code as the management API; API keys and
operators through admin.py, the same code as the CLI; connections and the audit log are read from their
owners over the internal network with the operator as the caller.
"""
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from link_issuer.accounts import admin, store
from link_issuer.accounts.operators import OperatorPermission, allowed
from link_issuer.api import CreateOrganization, Text, link_summary_json, organization_json
from link_issuer.console.auth import (
    CSRF_HEADER,
    ConsoleAuth,
    ConsoleSession,
    csrf_matches,
    current_session,
    operator_actor,
)
from link_issuer.console.upstream import AUDIT_FILTERS, AuditReader, ConnectionReader
from link_issuer.links import LinkService, LinkWithState
from portico_events import AuditLogExported, AuditLogVerified, CloudEvent
from shared.errors import DomainError, Forbidden, NotFound, Unauthenticated
from shared.ids import Clock
from shared.internal_http import Export
from shared.outbox import record_events
from shared.timestamps import rfc3339, rfc3339_or_none

PREFIX = "/console/api"
SOURCE = "/portico/link-issuer/console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
P = OperatorPermission


@dataclass(frozen=True)
class Console:
    """What the console's routes call; each is the one implementation the API or the CLI uses too."""

    links: LinkService
    auth: ConsoleAuth
    pool: Callable[[], asyncpg.Pool]
    connections: ConnectionReader
    audit: AuditReader
    clock: Clock


@dataclass(frozen=True)
class Permit:
    """Route dependency: the signed-in session, when its operator may do `permission` (else 401/403)."""

    permission: OperatorPermission

    async def __call__(
        self, request: Request, session: Annotated[ConsoleSession | None, Depends(current_session)]
    ) -> ConsoleSession:
        if session is None:
            raise Unauthenticated("not_signed_in", "Sign in to the console first.")
        if request.method not in SAFE_METHODS and not csrf_matches(session, request.headers.get(CSRF_HEADER)):
            raise Forbidden("csrf_failed", f"Send the session's CSRF token in {CSRF_HEADER}; reload the page.")
        if session.operator.must_change_password and self.permission is not P.OWN_ACCOUNT:
            raise Forbidden("password_change_required", "Choose a new password before anything else.")
        if not allowed(session.operator.role, self.permission):
            raise Forbidden("forbidden", "Your role does not allow this.")
        return session


def permitted(permission: OperatorPermission) -> Any:
    return Depends(Permit(permission))


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, StringConstraints(max_length=1000)]
    password: Annotated[str, StringConstraints(max_length=1024)]


class ChangePassword(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Annotated[str, StringConstraints(max_length=1024)]
    new_password: Annotated[str, StringConstraints(max_length=1024)]


class CreateLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["magic", "shareable"]
    expires_in_seconds: int | None = None


class CreateApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Text


class CreateOperator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, StringConstraints(max_length=1000)]
    role: Annotated[str, StringConstraints(max_length=50)]




def session_json(session: ConsoleSession) -> dict[str, Any]:
    return {"operator": session.operator.document(), "csrf_token": session.csrf_token}


def created_by_text(reference: str | None, operator_emails: dict[str, str]) -> str | None:
    """Who made a link, for people: an operator's email, or `API key key_…`."""
    kind, _, actor_id = (reference or "").partition(":")
    if kind == "operator":
        return operator_emails.get(actor_id, actor_id)
    if kind == "api_key":
        return f"API key {actor_id}"
    return reference


def console_link_json(found: LinkWithState, operator_emails: dict[str, str]) -> dict[str, Any]:
    """The API's link summary, with its author named for people."""
    return {**link_summary_json(found), "created_by": created_by_text(found.link.created_by, operator_emails)}


SIGN_IN_FILTERS = ("connection_id", "kind", "status", "cursor", "limit")


def _audit_params(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    return {name: value for name in names if (value := request.query_params.get(name))}


router = APIRouter(prefix=PREFIX, include_in_schema=False)


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


Services = Annotated[Console, Depends(console_of)]

Own = Annotated[ConsoleSession, permitted(P.OWN_ACCOUNT)]
ReadOrganizations = Annotated[ConsoleSession, permitted(P.ORGANIZATIONS_READ)]
CreateOrganizations = Annotated[ConsoleSession, permitted(P.ORGANIZATIONS_CREATE)]
ReadConnections = Annotated[ConsoleSession, permitted(P.CONNECTIONS_READ)]
ReadLinks = Annotated[ConsoleSession, permitted(P.LINKS_READ)]
WriteLinks = Annotated[ConsoleSession, permitted(P.LINKS_WRITE)]
ReadAudit = Annotated[ConsoleSession, permitted(P.AUDIT_READ)]
ManageApiKeys = Annotated[ConsoleSession, permitted(P.API_KEYS_MANAGE)]
ManageOperators = Annotated[ConsoleSession, permitted(P.OPERATORS_MANAGE)]


async def record(console: Console, event: CloudEvent) -> None:
    await record_events(console.pool(), [event])


# Session and own account.
@router.post("/session")
async def sign_in(console: Services, body: SignIn, request: Request, response: Response) -> dict[str, Any]:
    session = await console.auth.sign_in(body.email, body.password, request)
    console.auth.set_cookie(response, session)
    return session_json(session)


@router.get("/session")
async def read_session(session: Own) -> dict[str, Any]:
    return session_json(session)


@router.delete("/session", status_code=204)
async def sign_out(console: Services, session: Own, request: Request) -> Response:
    await console.auth.sign_out(session, request)
    response = Response(status_code=204)
    console.auth.clear_cookie(response)
    return response


@router.post("/password")
async def change_password(console: Services, body: ChangePassword, session: Own, request: Request) -> JSONResponse:
    """Every other session of the operator ends; this one goes on under a new cookie and CSRF token."""
    renewed = await console.auth.change_password(session, body.current_password, body.new_password, request)
    response = JSONResponse(session_json(renewed))
    console.auth.set_cookie(response, renewed)
    return response


# Organizations, connections, links (support and admin).
@router.get("/organizations")
async def list_organizations(
    console: Services, _: ReadOrganizations, q: str | None = None, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    page = await console.links.search_organizations(q, cursor, limit)
    return {"organizations": [organization_json(o) for o in page.organizations], "next_cursor": page.next_cursor}


@router.post("/organizations", status_code=201)
async def create_organization(
    console: Services, body: CreateOrganization, session: CreateOrganizations, request: Request
) -> dict[str, Any]:
    organization = await console.links.create_organization(
        body.display_name, body.external_id, body.allowed_frame_ancestors, operator_actor(request, session.operator.id)
    )
    return {"organization": organization_json(organization)}


@router.get("/organizations/{organization_id}")
async def read_organization(console: Services, organization_id: str, _: ReadOrganizations) -> dict[str, Any]:
    return {"organization": organization_json(await console.links.organization(organization_id))}


@router.get("/organizations/{organization_id}/connections")
async def list_connections(console: Services, organization_id: str, session: ReadConnections, request: Request) -> dict[str, Any]:
    await console.links.organization(organization_id)
    actor = operator_actor(request, session.operator.id)
    return {"connections": await console.connections.summaries(organization_id, actor)}


@router.get("/organizations/{organization_id}/sign_ins")
async def list_sign_ins(console: Services, organization_id: str, session: ReadConnections, request: Request) -> JSONResponse:
    """Each connection's recent tests and sign-ins; bad filters come back as connection-config's 400 naming them."""
    await console.links.organization(organization_id)
    params = _audit_params(request, SIGN_IN_FILTERS)
    answer = await console.connections.sign_ins(organization_id, operator_actor(request, session.operator.id), params)
    return JSONResponse(answer.body, status_code=answer.status, headers={"Cache-Control": "no-store"})


@router.get("/organizations/{organization_id}/links")
async def list_links(console: Services, organization_id: str, _: ReadLinks) -> dict[str, Any]:
    found = await console.links.list_links(organization_id)
    operator_ids = {by.partition(":")[2] for f in found if (by := f.link.created_by) and by.startswith("operator:")}
    emails = await store.operator_emails(console.pool(), sorted(operator_ids)) if operator_ids else {}
    return {"links": [console_link_json(f, emails) for f in found]}


@router.post("/organizations/{organization_id}/links", status_code=201)
async def issue_link(console: Services, organization_id: str, body: CreateLink, session: WriteLinks, request: Request) -> dict[str, Any]:
    issued = await console.links.issue_link(
        organization_id, body.kind, operator_actor(request, session.operator.id),
        expires_in_seconds=body.expires_in_seconds,
    )
    link = issued.link
    return {"link": {"id": link.id, "kind": link.kind, "location": issued.location,
                     "expire_time": rfc3339(link.expire_time)}}


@router.delete("/organizations/{organization_id}/links/{link_id}", status_code=204)
async def revoke_link(console: Services, organization_id: str, link_id: str, session: WriteLinks, request: Request) -> Response:
    await console.links.revoke_link(organization_id, link_id, operator_actor(request, session.operator.id))
    return Response(status_code=204)


# The audit log (auditor and admin), read from the audit service as this operator.
@router.get("/audit/events")
async def audit_events(console: Services, session: ReadAudit, request: Request) -> JSONResponse:
    params = _audit_params(request, (*AUDIT_FILTERS, "cursor", "limit"))
    answer = await console.audit.events(operator_actor(request, session.operator.id), params)
    return JSONResponse(answer.body, status_code=answer.status, headers={"Cache-Control": "no-store"})


@router.get("/audit/verify")
async def audit_verify(console: Services, session: ReadAudit, request: Request, organization_id: str | None = None) -> JSONResponse:
    actor = operator_actor(request, session.operator.id)
    answer = await console.audit.verify(actor, organization_id or None)
    if answer.status == 200 and isinstance(answer.body, dict):
        await record(console, CloudEvent.wrap(
            AuditLogVerified(verified_organization_id=organization_id or None, ok=bool(answer.body.get("ok")),
                             checked=int(answer.body.get("checked") or 0), actor=actor),
            source=SOURCE, time=console.clock.now(),
        ))
    return JSONResponse(answer.body, status_code=answer.status, headers={"Cache-Control": "no-store"})


@router.get("/audit/export")
async def audit_export(console: Services, session: ReadAudit, request: Request, format: str = "jsonl") -> Response:
    actor = operator_actor(request, session.operator.id)
    filters = _audit_params(request, AUDIT_FILTERS)
    answer = await console.audit.export(actor, {"format": format, **filters})
    if not isinstance(answer, Export):
        return JSONResponse(answer.body, status_code=answer.status)
    await record(console, CloudEvent.wrap(
        AuditLogExported(format="csv" if format == "csv" else "jsonl", filters=filters, actor=actor),
        source=SOURCE, time=console.clock.now(),
    ))
    return StreamingResponse(answer.chunks, media_type=answer.content_type, headers={
        "Content-Disposition": answer.content_disposition, "Cache-Control": "no-store",
    })


# API keys and operators (admin).
@router.get("/api-keys")
async def list_api_keys(console: Services, _: ManageApiKeys) -> dict[str, Any]:
    keys = await admin.api_keys(console.pool())
    return {"api_keys": [{"id": k.id, "name": k.name, "created_at": rfc3339_or_none(k.created_at),
                          "revoked_at": rfc3339_or_none(k.revoked_at)} for k in keys]}


@router.post("/api-keys", status_code=201)
async def create_api_key(console: Services, body: CreateApiKey, session: ManageApiKeys, request: Request) -> JSONResponse:
    info, key = await admin.issue_api_key(console.pool(), body.name, operator_actor(request, session.operator.id))
    return JSONResponse(
        {"api_key": {"id": info.id, "name": info.name, "created_at": rfc3339_or_none(info.created_at)}, "key": key},
        status_code=201, headers={"Cache-Control": "no-store"},
    )


@router.delete("/api-keys/{key_id}", status_code=204)
async def revoke_api_key(console: Services, key_id: str, session: ManageApiKeys, request: Request) -> Response:
    if not await admin.withdraw_api_key(console.pool(), key_id, operator_actor(request, session.operator.id)):
        raise NotFound("api_key_not_found", f"No API key {key_id}.", "key_id")
    return Response(status_code=204)


@router.get("/operators")
async def list_operators(console: Services, _: ManageOperators) -> dict[str, Any]:
    return {"operators": [o.document() for o in await admin.operators(console.pool())]}


@router.post("/operators", status_code=201)
async def create_operator(console: Services, body: CreateOperator, session: ManageOperators, request: Request) -> JSONResponse:
    operator, password = await admin.add_operator(
        console.pool(), console.auth.hashing, body.email, body.role, operator_actor(request, session.operator.id)
    )
    return JSONResponse({"operator": operator.document(), "one_time_password": password},
                        status_code=201, headers={"Cache-Control": "no-store"})


def _by_id(operator_id: str) -> str:
    if not operator_id.startswith("opr_"):
        raise NotFound("operator_not_found", f"No operator {operator_id}.", "operator_id")
    return operator_id


@router.post("/operators/{operator_id}/disable", status_code=204)
async def disable_operator(console: Services, operator_id: str, session: ManageOperators, request: Request) -> Response:
    if operator_id == session.operator.id:
        raise DomainError("cannot_disable_self", "You cannot disable your own account.", "operator_id")
    await admin.disable_operator(console.pool(), _by_id(operator_id), operator_actor(request, session.operator.id))
    return Response(status_code=204)


@router.post("/operators/{operator_id}/reset-password")
async def reset_operator_password(console: Services, operator_id: str, session: ManageOperators, request: Request) -> JSONResponse:
    _, password = await admin.reset_operator_password(
        console.pool(), console.auth.hashing, _by_id(operator_id), operator_actor(request, session.operator.id)
    )
    return JSONResponse({"one_time_password": password}, headers={"Cache-Control": "no-store"})


def install_console_api(app: FastAPI, console: Console) -> APIRouter:
    app.state.console = console
    app.state.console_auth = console.auth
    app.include_router(router)
    return router
