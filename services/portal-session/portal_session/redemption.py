"""Redeeming a portal link: the signed token says what the link is, Redis is the fast path, and link-issuer's
Postgres is the truth.

A magic link is used in Postgres before its session opens, so single use holds when Redis loses its data;
a shareable link Redis knows is decided by Redis alone (revocations reach it as events within a second),
and one Redis does not know (its `issued` event not consumed yet, or Redis's data lost) is checked with
link-issuer first, never waiting for Kafka.
"""
import secrets
from dataclasses import dataclass

from portal_session.domain import SOURCE
from portal_session.sessions import cookie_digest
from portal_session.store import PortalStore
from portico_events import Actor, CloudEvent, PortalLinkRedeemed, PortalSessionStarted
from shared.errors import Unavailable
from shared.ids import Clock, new_id
from shared.internal_http import InternalClient
from shared.link_tokens import LinkClaims, token_sha256
from shared.settings import Settings


@dataclass(frozen=True)
class Redeemed:
    cookie: str
    ends_at: float  # unix seconds


@dataclass(frozen=True)
class Refused:
    reason: str  # used|expired|revoked|invalid


@dataclass(frozen=True)
class Verdict:
    outcome: str  # ok|used|revoked|expired|invalid
    return_url: str | None
    success_url: str | None


class LinkIssuer(InternalClient):
    """link-issuer's answer on one link: may it open a session now (a live magic link is used by asking)."""

    async def redeem(self, link_id: str, token_digest: str, actor: Actor) -> Verdict:
        answer = await self.post_json(f"/internal/portal_links/{link_id}/redemptions", actor, {"token_sha256": token_digest})
        if answer.status != 200:
            raise Unavailable("service_unavailable", "Setup links cannot be checked for a moment; retry shortly.")
        return Verdict(str(answer.body["outcome"]), answer.body.get("return_url"), answer.body.get("success_url"))


class Redemptions:
    def __init__(self, portal: PortalStore, issuer: LinkIssuer, settings: Settings, clock: Clock) -> None:
        self._portal = portal
        self._issuer = issuer
        self._settings = settings
        self._clock = clock

    async def redeem(self, token: str, claims: LinkClaims, client_address: str, user_agent: str | None) -> Redeemed | Refused:
        session_id = new_id("ses")
        cookie = secrets.token_urlsafe(32)
        digest = token_sha256(token)
        actor = Actor(kind="portal_session", id=session_id, client_address=client_address, user_agent=user_agent)

        def events(vouched: bool) -> tuple[bytes, bytes]:
            """Dated when they are queued (after link-issuer answered), not when the request came in; none for
            the first look at a magic link, which the script never opens without link-issuer's word."""
            if claims.kind == "magic" and not vouched:
                return b"", b""
            now = self._clock.now()
            return (
                CloudEvent.wrap(
                    PortalLinkRedeemed(organization_id=claims.organization_id, link_id=claims.link_id,
                                       session_id=session_id, actor=actor),
                    source=SOURCE, time=now,
                ).to_bytes(),
                CloudEvent.wrap(
                    PortalSessionStarted(organization_id=claims.organization_id, session_id=session_id,
                                         link_id=claims.link_id, actor=actor),
                    source=SOURCE, time=now,
                ).to_bytes(),
            )

        async def open_session(vouched: tuple[str, str] | None) -> tuple[str, float | None]:
            return await self._portal.redeem(
                link_id=claims.link_id,
                org=claims.organization_id,
                kind=claims.kind,
                expire=claims.expire_time.timestamp(),
                token_sha256=digest,
                cookie_sha256=cookie_digest(cookie),
                session_id=session_id,
                csrf_token=secrets.token_urlsafe(32),
                idle_s=self._settings.portal_session_idle_seconds,
                max_s=self._settings.portal_session_max_seconds,
                events=events(vouched is not None),
                vouched=vouched,
            )

        status, ends_at = await open_session(None)
        if status == "unknown":
            verdict = await self._issuer.redeem(claims.link_id, digest, actor)
            if verdict.outcome != "ok":
                if verdict.outcome in ("used", "revoked"):
                    await self._portal.remember_refused(
                        claims.link_id, verdict.outcome, claims.organization_id, claims.kind,
                        claims.expire_time.timestamp(), digest,
                    )
                return Refused(verdict.outcome)
            status, ends_at = await open_session((verdict.return_url or "", verdict.success_url or ""))
        if status != "ok" or ends_at is None:
            return Refused(status)
        return Redeemed(cookie, ends_at)
