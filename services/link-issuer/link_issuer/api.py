"""HTTP routes of the management API (organizations and portal links) and the proxy's key check."""
import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from link_issuer import store
from link_issuer.auth import ApiKeyVerifier, authenticate
from link_issuer.domain import (
    DomainError,
    NotFound,
    Organization,
    PortalLink,
    check_redirect_url,
    link_expire_time,
    normalize_origin,
)
from portico_events.asyncapi import asyncapi_document
from shared.errors import APIError, error_body
from portico_events import Actor, CloudEvent, OrganizationCreated, PortalLinkIssued, PortalLinkRevoked
from shared.ids import Clock, new_id
from shared.internal_auth import ACTOR_HEADER
from shared.link_tokens import LinkClaims, issue_link_token, token_sha256
from shared.runtime import ServiceRuntime
from shared.settings import Settings

SOURCE = "/portico/link-issuer"
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


class CreateOrganization(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Text
    external_id: Text | None = None
    allowed_frame_ancestors: list[Url] = Field(default_factory=list, max_length=20)


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
        "created_at": organization.created_at.isoformat(),
    }


def link_summary_json(link: PortalLink) -> dict[str, object]:
    return {
        "id": link.id,
        "kind": link.kind,
        "expire_time": link.expire_time.isoformat(),
        "created_at": link.created_at.isoformat(),
        "revoked": link.revoked,
    }


async def domain_error_handler(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return JSONResponse(error_body(error.code, error.message, error.field), status_code=error.status)


def install_routes(app: FastAPI, runtime: ServiceRuntime, settings: Settings, clock: Clock) -> None:
    bootstrap_key = settings.bootstrap_api_key.get_secret_value() if settings.bootstrap_api_key else None
    verifier = ApiKeyVerifier(runtime.require_pool, bootstrap_key)
    signing_key = settings.link_signing_key.get_secret_value().encode()
    allowed_redirect_origins = {
        normalize_origin(origin, "PORTICO_ALLOWED_REDIRECT_ORIGINS")
        for origin in settings.allowed_redirect_origins.split(",")
        if origin.strip()
    } | {normalize_origin(settings.public_url, "PORTICO_PUBLIC_URL")}

    async def caller(request: Request) -> Actor:
        return await authenticate(request, verifier)

    Caller = Annotated[Actor, Depends(caller)]
    router = APIRouter(prefix="/api/v1")

    async def organization_or_404(organization_id: str) -> Organization:
        organization = await store.get_organization(runtime.require_pool(), organization_id)
        if organization is None:
            raise NotFound("organization_not_found", f"No organization {organization_id}.", "organization_id")
        return organization

    @router.post("/organizations", status_code=201)
    async def create_organization(body: CreateOrganization, actor: Caller) -> dict[str, object]:
        ancestors = sorted(
            {normalize_origin(origin, f"allowed_frame_ancestors.{i}") for i, origin in enumerate(body.allowed_frame_ancestors)}
        )
        organization = Organization(
            id=new_id("org"),
            display_name=body.display_name,
            external_id=body.external_id,
            allowed_frame_ancestors=ancestors,
            created_at=clock.now(),
        )
        event = CloudEvent.wrap(
            OrganizationCreated(
                organization_id=organization.id,
                display_name=organization.display_name,
                external_id=organization.external_id,
                allowed_frame_ancestors=organization.allowed_frame_ancestors,
                actor=actor,
            ),
            source=SOURCE,
            time=organization.created_at,
        )
        created = await store.insert_organization(runtime.require_pool(), organization, f"api_key:{actor.id}", event)
        return {"organization": organization_json(created)}

    @router.get("/organizations/{organization_id}")
    async def get_organization(organization_id: str, _: Caller) -> dict[str, object]:
        return {"organization": organization_json(await organization_or_404(organization_id))}

    async def issue_link(
        organization: Organization,
        kind: Literal["magic", "shareable"],
        options: MagicLinkOptions,
        expires_in_seconds: int | None,
        actor: Actor,
    ) -> dict[str, object]:
        allowed = allowed_redirect_origins | set(organization.allowed_frame_ancestors)
        return_url = options.return_url and check_redirect_url(options.return_url, "return_url", allowed)
        success_url = options.success_url and check_redirect_url(options.success_url, "success_url", allowed)
        now = clock.now()
        link = PortalLink(
            id=new_id("lnk"),
            organization_id=organization.id,
            kind=kind,
            expire_time=link_expire_time(kind, now, expires_in_seconds),
            created_at=now,
            revoked=False,
            return_url=return_url,
            success_url=success_url,
        )
        token = issue_link_token(
            LinkClaims(link.id, organization.id, kind, link.expire_time), signing_key, secrets.token_bytes
        )
        digest = token_sha256(token)
        event = CloudEvent.wrap(
            PortalLinkIssued(
                organization_id=organization.id,
                link_id=link.id,
                kind=kind,
                token_sha256=digest,
                expire_time=link.expire_time,
                return_url=return_url,
                success_url=success_url,
                actor=actor,
            ),
            source=SOURCE,
            time=now,
        )
        await store.insert_link(runtime.require_pool(), link, digest, f"api_key:{actor.id}", event)
        return {
            "link": {
                "id": link.id,
                "kind": kind,
                "location": f"{settings.public_url.rstrip('/')}/portal/l/{token}",
                "expire_time": link.expire_time.isoformat(),
            }
        }

    @router.put("/organizations/{organization_id}/portal_links")
    async def generate_magic_link(
        organization_id: str, actor: Caller, body: Annotated[MagicLinkOptions | None, Body()] = None
    ) -> dict[str, object]:
        organization = await organization_or_404(organization_id)
        return await issue_link(organization, "magic", body or MagicLinkOptions(), None, actor)

    @router.post("/organizations/{organization_id}/portal_links", status_code=201)
    async def create_shareable_link(organization_id: str, body: CreateLink, actor: Caller) -> dict[str, object]:
        organization = await organization_or_404(organization_id)
        return await issue_link(organization, "shareable", body, body.expires_in_seconds, actor)

    @router.get("/organizations/{organization_id}/portal_links")
    async def list_links(organization_id: str, _: Caller) -> dict[str, object]:
        await organization_or_404(organization_id)
        links = await store.list_links(runtime.require_pool(), organization_id)
        return {"links": [link_summary_json(link) for link in links]}

    @router.delete("/organizations/{organization_id}/portal_links/{link_id}", status_code=204)
    async def revoke_link(organization_id: str, link_id: str, actor: Caller) -> Response:
        await organization_or_404(organization_id)
        now = clock.now()
        event = CloudEvent.wrap(
            PortalLinkRevoked(organization_id=organization_id, link_id=link_id, actor=actor), source=SOURCE, time=now
        )
        outcome = await store.revoke_link(runtime.require_pool(), organization_id, link_id, f"api_key:{actor.id}", now, event)
        if outcome is None:
            raise NotFound("link_not_found", f"Organization {organization_id} has no link {link_id}.", "link_id")
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
        except APIError as error:
            return JSONResponse(error_body(error.code, error.message), status_code=401)
        return Response(status_code=204, headers={ACTOR_HEADER: f"api_key:{actor.id}"})

    app.include_router(router)
    app.include_router(internal)
    app.add_exception_handler(DomainError, domain_error_handler)

