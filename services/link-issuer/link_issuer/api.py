"""HTTP routes of the management API (organizations and portal links) and the proxy's key check."""
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from link_issuer.accounts.api_keys import ApiKeyVerifier, authenticate
from link_issuer.domain import Organization
from link_issuer.links import IssuedLink, LinkService, LinkWithState
from portico_events import Actor
from portico_events.asyncapi import asyncapi_document
from shared.errors import Unauthenticated, error_body
from shared.internal_auth import ACTOR_HEADER, require_caller
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from shared.timestamps import rfc3339

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


class CreateOrganization(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Text
    external_id: Text | None = None
    allowed_frame_ancestors: list[Url] = Field(default_factory=list, max_length=20)


class RedeemLink(BaseModel):
    """portal-session's question before a link opens a session (only the token's SHA-256 travels)."""

    model_config = ConfigDict(extra="forbid")
    token_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class MagicLinkOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    return_url: Url | None = None
    success_url: Url | None = None


class CreateLink(MagicLinkOptions):
    kind: Literal["shareable"]
    expires_in_seconds: int | None = None


def organization_json(organization: Organization) -> dict[str, object]:
    return {
        "id": organization.id,
        "display_name": organization.display_name,
        "external_id": organization.external_id,
        "allowed_frame_ancestors": organization.allowed_frame_ancestors,
        "created_at": rfc3339(organization.created_at),
    }


def link_summary_json(found: LinkWithState) -> dict[str, object]:
    link = found.link
    return {
        "id": link.id,
        "kind": link.kind,
        "state": found.state,
        "expire_time": rfc3339(link.expire_time),
        "created_at": rfc3339(link.created_at),
        "created_by": link.created_by,
        "revoked": link.revoked,
    }


def issued_link_json(issued: IssuedLink) -> dict[str, object]:
    return {
        "id": issued.link.id,
        "kind": issued.link.kind,
        "location": issued.location,
        "expire_time": rfc3339(issued.link.expire_time),
    }


def install_routes(app: FastAPI, runtime: ServiceRuntime, settings: Settings, links: LinkService) -> None:
    bootstrap_key = settings.bootstrap_api_key.get_secret_value() if settings.bootstrap_api_key else None
    verifier = ApiKeyVerifier(runtime.require_pool, bootstrap_key)

    async def caller(request: Request) -> Actor:
        return await authenticate(request, verifier)

    Caller = Annotated[Actor, Depends(caller)]
    router = APIRouter(prefix="/api/v1")

    @router.post("/organizations", status_code=201)
    async def create_organization(body: CreateOrganization, actor: Caller) -> dict[str, object]:
        organization = await links.create_organization(
            body.display_name, body.external_id, body.allowed_frame_ancestors, actor
        )
        return {"organization": organization_json(organization)}

    @router.get("/organizations/{organization_id}")
    async def get_organization(organization_id: str, _: Caller) -> dict[str, object]:
        return {"organization": organization_json(await links.organization(organization_id))}

    @router.put("/organizations/{organization_id}/portal_links")
    async def generate_magic_link(
        organization_id: str, actor: Caller, body: Annotated[MagicLinkOptions | None, Body()] = None
    ) -> dict[str, object]:
        options = body or MagicLinkOptions()
        issued = await links.issue_link(
            organization_id, "magic", actor, return_url=options.return_url, success_url=options.success_url
        )
        return {"link": issued_link_json(issued)}

    @router.post("/organizations/{organization_id}/portal_links", status_code=201)
    async def create_shareable_link(organization_id: str, body: CreateLink, actor: Caller) -> dict[str, object]:
        issued = await links.issue_link(
            organization_id, "shareable", actor, return_url=body.return_url, success_url=body.success_url,
            expires_in_seconds=body.expires_in_seconds,
        )
        return {"link": issued_link_json(issued)}

    @router.get("/organizations/{organization_id}/portal_links")
    async def list_links(organization_id: str, _: Caller) -> dict[str, object]:
        return {"links": [link_summary_json(found) for found in await links.list_links(organization_id)]}

    @router.delete("/organizations/{organization_id}/portal_links/{link_id}", status_code=204)
    async def revoke_link(organization_id: str, link_id: str, actor: Caller) -> Response:
        await links.revoke_link(organization_id, link_id, actor)
        return Response(status_code=204)

    @router.get("/asyncapi.json")
    async def event_catalogue() -> JSONResponse:
        """The AsyncAPI document of every event Portico publishes (public, like docs/asyncapi.json)."""
        return JSONResponse(asyncapi_document())

    internal = APIRouter(prefix="/internal", include_in_schema=False)

    @internal.get("/auth/api-key")
    async def check_api_key(request: Request) -> Response:
        """For the proxy's auth_request: 204 with the caller's identity, or 401 (the proxy answers it)."""
        try:
            actor = await authenticate(request, verifier)
        except Unauthenticated as error:
            return JSONResponse(error_body(error.code, error.message), status_code=401)
        return Response(status_code=204, headers={ACTOR_HEADER: f"api_key:{actor.id}"})

    @internal.post("/portal_links/{link_id}/redemptions", dependencies=[Depends(require_caller)])
    async def redeem_link(link_id: str, body: RedeemLink) -> dict[str, object]:
        """May this link open a session now? A live magic link is used by this answer (see LinkService.redeem_link)."""
        verdict = await links.redeem_link(link_id, body.token_sha256)
        link = verdict.link
        return {
            "outcome": verdict.outcome,
            "return_url": link.return_url if link else None,
            "success_url": link.success_url if link else None,
        }

    app.include_router(router)
    app.include_router(internal)

