"""The one implementation of organizations and portal links, called by the management API and the console alike.

Each change is written with its event in one transaction (store.py), so whichever door it came through,
an organization or link that exists has its event on the way to Kafka, with the caller as its actor.
"""
import base64
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from link_issuer import store
from link_issuer.domain import (
    LinkState,
    Organization,
    PortalLink,
    check_redirect_url,
    link_expire_time,
    link_state,
    normalize_origin,
)
from link_issuer.metrics import LINKS_ISSUED
from portico_events import Actor, CloudEvent, OrganizationCreated, PortalLinkIssued, PortalLinkRevoked
from shared.errors import DomainError, NotFound
from shared.ids import Clock, new_id
from shared.link_tokens import LinkClaims, issue_link_token, token_sha256
from shared.settings import Settings

SOURCE = "/portico/link-issuer"
MAX_PAGE = 200
ORGANIZATIONS_KEPT = 10_000  # organizations whose row a process keeps after reading it (a few MiB)
LinkKind = Literal["magic", "shareable"]


@dataclass(frozen=True)
class IssuedLink:
    """A link just issued; `location` holds its secret token and is shown to the caller this once."""

    link: PortalLink
    location: str


@dataclass(frozen=True)
class LinkWithState:
    link: PortalLink
    state: LinkState


@dataclass(frozen=True)
class LinkRedemption:
    """May this link open a session now: `ok`, or why not (used|revoked|expired|invalid: no such link)."""

    outcome: Literal["ok", "used", "revoked", "expired", "invalid"]
    link: PortalLink | None


@dataclass(frozen=True)
class OrganizationPage:
    organizations: list[Organization]
    next_cursor: str | None


def _encode_cursor(organization: Organization) -> str:
    raw = f"{organization.created_at.isoformat()}|{organization.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, organization_id = raw.partition("|")
        return datetime.fromisoformat(moment), organization_id
    except (ValueError, UnicodeDecodeError):
        raise DomainError("invalid_cursor", "cursor: not a cursor this API returned.", "cursor") from None


class LinkService:
    """Organizations and links on link-issuer's database, with the deployment's signing key and origins."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        settings: Settings,
        clock: Clock,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._token_bytes = token_bytes
        self._organizations: OrderedDict[str, Organization] = OrderedDict()  # most recently used last
        self._signing_key = settings.secret("link_signing_key").encode()
        self._public_url = settings.public_url.rstrip("/")
        self._redirect_origins = {
            normalize_origin(origin, "PORTICO_ALLOWED_REDIRECT_ORIGINS")
            for origin in settings.allowed_redirect_origins.split(",")
            if origin.strip()
        } | {normalize_origin(settings.public_url, "PORTICO_PUBLIC_URL")}

    async def create_organization(
        self, display_name: str, external_id: str | None, allowed_frame_ancestors: list[str], actor: Actor
    ) -> Organization:
        ancestors = sorted(
            {normalize_origin(origin, f"allowed_frame_ancestors.{i}") for i, origin in enumerate(allowed_frame_ancestors)}
        )
        organization = Organization(
            id=new_id("org"),
            display_name=display_name,
            external_id=external_id,
            allowed_frame_ancestors=ancestors,
            created_at=self._clock.now(),
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
        return await store.insert_organization(self._pool(), organization, actor.reference, event)

    async def organization(self, organization_id: str) -> Organization:
        """Organizations never change once created (no API updates or deletes one), so one read per process
        serves every later link of it: a database round trip less on each issuance. Unknown ids are not kept."""
        organization = self._organizations.get(organization_id)
        if organization is not None:
            self._organizations.move_to_end(organization_id)
            return organization
        organization = await store.get_organization(self._pool(), organization_id)
        if organization is None:
            raise NotFound("organization_not_found", f"No organization {organization_id}.", "organization_id")
        self._organizations[organization_id] = organization
        if len(self._organizations) > ORGANIZATIONS_KEPT:
            self._organizations.popitem(last=False)
        return organization

    async def search_organizations(self, text: str | None, cursor: str | None, limit: int) -> OrganizationPage:
        if not 1 <= limit <= MAX_PAGE:
            raise DomainError("invalid_limit", f"limit: expected a whole number from 1 to {MAX_PAGE}.", "limit")
        after = _decode_cursor(cursor) if cursor else None
        found = await store.search_organizations(self._pool(), (text or "").strip() or None, after, limit + 1)
        page = found[:limit]
        return OrganizationPage(page, _encode_cursor(page[-1]) if len(found) > limit else None)

    async def issue_link(
        self,
        organization_id: str,
        kind: LinkKind,
        actor: Actor,
        *,
        return_url: str | None = None,
        success_url: str | None = None,
        expires_in_seconds: int | None = None,
    ) -> IssuedLink:
        organization = await self.organization(organization_id)
        allowed = self._redirect_origins | set(organization.allowed_frame_ancestors)
        return_url = return_url and check_redirect_url(return_url, "return_url", allowed)
        success_url = success_url and check_redirect_url(success_url, "success_url", allowed)
        if kind == "magic" and expires_in_seconds is not None:
            raise DomainError("invalid_expiry", "A magic link always lives 5 minutes.", "expires_in_seconds")
        now = self._clock.now()
        link = PortalLink(
            id=new_id("lnk"),
            organization_id=organization.id,
            kind=kind,
            expire_time=link_expire_time(kind, now, expires_in_seconds),
            created_at=now,
            revoked=False,
            return_url=return_url,
            success_url=success_url,
            created_by=actor.reference,
        )
        token = issue_link_token(
            LinkClaims(link.id, organization.id, kind, link.expire_time), self._signing_key, self._token_bytes
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
        await store.insert_link(self._pool(), link, digest, actor.reference, event)
        LINKS_ISSUED.labels(kind).inc()
        return IssuedLink(link, f"{self._public_url}/portal/l/{token}")

    async def list_links(self, organization_id: str) -> list[LinkWithState]:
        await self.organization(organization_id)
        now = self._clock.now()
        return [LinkWithState(link, link_state(link, now)) for link in await store.list_links(self._pool(), organization_id)]

    async def revoke_link(self, organization_id: str, link_id: str, actor: Actor) -> bool:
        """True when revoked now, False when it already was; NotFound for a link of another organization."""
        await self.organization(organization_id)
        now = self._clock.now()
        event = CloudEvent.wrap(
            PortalLinkRevoked(organization_id=organization_id, link_id=link_id, actor=actor), source=SOURCE, time=now
        )
        outcome = await store.revoke_link(self._pool(), organization_id, link_id, actor.reference, now, event)
        if outcome is None:
            raise NotFound("link_not_found", f"Organization {organization_id} has no link {link_id}.", "link_id")
        return outcome

    async def redeem_link(self, link_id: str, token_sha256: str) -> LinkRedemption:
        """portal-session asks before a link opens a session. A live magic link is used by this call, in
        Postgres, so a used or revoked link stays so when Redis loses its data; a shareable link is read."""
        now = self._clock.now()
        found = await store.redeem_link(self._pool(), link_id, token_sha256, now)
        if found is None:
            return LinkRedemption("invalid", None)
        link, used_now = found
        if used_now:
            return LinkRedemption("ok", link)
        state = link_state(link, now)
        if link.kind == "magic" and state == "live":  # not used by this call although live: lost the race
            state = "used"
        return LinkRedemption("ok" if state == "live" else state, link)

    async def record_redemptions(self, redeemed: dict[str, datetime]) -> int:
        """portal-session said these links were opened (link id → when): a magic link is now `used`.
        Idempotent; returns how many links learned their first redemption now."""
        return await store.record_links_used(self._pool(), redeemed)
