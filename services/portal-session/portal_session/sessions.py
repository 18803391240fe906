"""Portal sessions as flows, testable without HTTP: redeeming a link, the live session behind a cookie,
finishing setup (which ends a magic link's session), and a revoked link ending every session opened with
it. Routes and subscribers only translate the outcomes below.

Redeeming: the signed token says what the link is, Redis is the fast path, and link-issuer's Postgres is
the truth. A magic link is used in Postgres before its session opens, so single use holds when Redis loses
its data; a shareable link Redis knows is decided by Redis alone (revocations reach it as events within a
second), and one Redis does not know (its `issued` event not consumed yet, or Redis's data lost) is checked
with link-issuer first, never waiting for Kafka.
"""
import hashlib
import secrets
from dataclasses import dataclass

from portal_session.domain import SESSION_OVER, SOURCE, derived_event_id
from portal_session.metrics import SESSIONS_ENDED, SESSIONS_STARTED, count_redemption
from portal_session.redemption import LinkIssuer
from portal_session.store import LiveSession, PortalStore, session_key
from portico_events import (
    Actor,
    CloudEvent,
    PortalLinkRedeemed,
    PortalLinkRevoked,
    PortalSessionEnded,
    PortalSessionStarted,
)
from shared import tracing
from shared.errors import Unauthenticated
from shared.ids import Clock, new_id
from shared.link_tokens import InvalidLinkToken, LinkClaims, read_link_token, token_sha256
from shared.redis_outbox import RedisOutboxRelay, queued
from shared.settings import Settings


def cookie_digest(cookie: str) -> str:
    """The only form of a session cookie that is stored."""
    return hashlib.sha256(cookie.encode()).hexdigest()


@dataclass(frozen=True)
class Redeemed:
    cookie: str
    ends_at: float  # unix seconds


@dataclass(frozen=True)
class Gone:
    """The link opens no session, and why: used|expired|revoked|invalid (domain.GONE_LINKS tells the admin)."""

    reason: str
    organization_id: str | None = None  # whose page says so; none for a token we did not sign


@dataclass(frozen=True)
class Throttled:
    retry_after: int  # seconds until the address's failure window resets


@dataclass(frozen=True)
class SetupFinished:
    ended: bool  # a magic link's session ends; a shareable link's goes on
    success_url: str | None


@dataclass(frozen=True)
class Revoked:
    sessions_ended: int


def _outcome_name(outcome: Redeemed | Gone | Throttled) -> str:
    if isinstance(outcome, Redeemed):
        return "ok"
    return "throttled" if isinstance(outcome, Throttled) else outcome.reason


class PortalSessions:
    def __init__(
        self, portal: PortalStore, issuer: LinkIssuer, relay: RedisOutboxRelay, settings: Settings, clock: Clock
    ) -> None:
        self._portal = portal
        self._issuer = issuer
        self._relay = relay
        self._clock = clock
        self._signing_key = settings.secret("link_signing_key").encode()
        self._idle_s = settings.portal_session_idle_seconds
        self._max_s = settings.portal_session_max_seconds
        self._failures_per_minute = settings.redeem_failures_per_minute

    async def read_link(self, token: str, client_address: str) -> LinkClaims | Gone | Throttled:
        """What a link says it is, without spending it. Only guesses are throttled: a token with our signature
        was issued by us, so an address over its failure limit (a shared office or carrier address) still
        opens the links it was given."""
        try:
            return read_link_token(token, self._signing_key)
        except InvalidLinkToken:
            pass
        if await self._portal.redemption_failures(client_address) >= self._failures_per_minute:
            return Throttled(await self._portal.failure_window_left(client_address))
        await self._portal.count_redemption_failure(client_address)
        return Gone("invalid")

    async def redeem(self, token: str, client_address: str, user_agent: str | None) -> Redeemed | Gone | Throttled:
        """Open a session with the link (a magic link once); the returned cookie is the session's only key."""
        claims = await self.read_link(token, client_address)
        if not isinstance(claims, LinkClaims):
            count_redemption("unknown", _outcome_name(claims))
            return claims
        if tracing.ENABLED:
            outcome = await self._open_session_traced(token, claims, client_address, user_agent)
        else:
            outcome = await self._open_session(token, claims, client_address, user_agent)
        if isinstance(outcome, Redeemed):
            SESSIONS_STARTED.labels(claims.kind).inc()
            self._relay.wake()
        elif outcome.reason == "invalid":  # signed by us yet unknown to link-issuer
            await self._portal.count_redemption_failure(client_address)
        count_redemption(claims.kind, _outcome_name(outcome))
        return outcome

    async def _open_session_traced(
        self, token: str, claims: LinkClaims, client_address: str, user_agent: str | None
    ) -> Redeemed | Gone:
        """_open_session as a span of the link's own trace, begun at its issue (kept with the link's state when its
        `issued` event was applied), linked to this request's span: the events it queues, and the audit records
        they become, join the link's trace. Without a kept context, a child of the request's span."""
        attributes = {"portico.link.id": claims.link_id, "portico.link.kind": claims.kind,
                      "portico.organization.id": claims.organization_id}
        with tracing.continued("redeem portal link", await self._portal.link_traceparent(claims.link_id), attributes) as span:
            outcome = await self._open_session(token, claims, client_address, user_agent)
            span.set_attribute("portico.redemption.outcome", _outcome_name(outcome))
            return outcome

    async def _open_session(
        self, token: str, claims: LinkClaims, client_address: str, user_agent: str | None
    ) -> Redeemed | Gone:
        """Redis decides the links it knows; one it does not, and every magic link, is put to link-issuer first."""
        session_id = new_id("ses")
        cookie = secrets.token_urlsafe(32)
        digest = token_sha256(token)
        actor = Actor(kind="portal_session", id=session_id, client_address=client_address, user_agent=user_agent)

        async def attempt(vouched: tuple[str, str] | None) -> tuple[str, float | None]:
            return await self._portal.redeem(
                link_id=claims.link_id,
                org=claims.organization_id,
                kind=claims.kind,
                expire=claims.expire_time.timestamp(),
                token_sha256=digest,
                cookie_sha256=cookie_digest(cookie),
                session_id=session_id,
                csrf_token=secrets.token_urlsafe(32),
                idle_s=self._idle_s,
                max_s=self._max_s,
                events=self._opening_events(claims, session_id, actor, vouched is not None),
                vouched=vouched,
            )

        status, ends_at = await attempt(None)
        if status == "unknown":
            verdict = await self._issuer.redeem(claims.link_id, digest, actor)
            if verdict.outcome != "ok":
                if verdict.outcome in ("used", "revoked"):
                    await self._portal.remember_refused(
                        claims.link_id, verdict.outcome, claims.organization_id, claims.kind,
                        claims.expire_time.timestamp(), digest,
                    )
                return Gone(verdict.outcome, claims.organization_id)
            status, ends_at = await attempt((verdict.return_url or "", verdict.success_url or ""))
        if status != "ok" or ends_at is None:
            return Gone(status, claims.organization_id)
        return Redeemed(cookie, ends_at)

    def _opening_events(self, claims: LinkClaims, session_id: str, actor: Actor, vouched: bool) -> tuple[bytes, bytes]:
        """portal_link.redeemed and portal_session.started, dated when they are queued (after link-issuer
        answered), not when the request came in; none for the first look at a magic link, which the script
        never opens without link-issuer's word."""
        if claims.kind == "magic" and not vouched:
            return b"", b""
        now = self._clock.now()
        return (
            queued(CloudEvent.wrap(
                PortalLinkRedeemed(organization_id=claims.organization_id, link_id=claims.link_id,
                                   session_id=session_id, actor=actor),
                source=SOURCE, time=now,
            )),
            queued(CloudEvent.wrap(
                PortalSessionStarted(organization_id=claims.organization_id, session_id=session_id,
                                     link_id=claims.link_id, actor=actor),
                source=SOURCE, time=now,
            )),
        )

    async def current(self, cookie: str | None) -> LiveSession:
        """The live session behind this cookie (its idle timer restarted), or a 401 saying why there is none."""
        if not cookie:
            raise Unauthenticated("no_session", SESSION_OVER["none"])
        outcome = await self._portal.touch_session(cookie_digest(cookie), self._idle_s)
        if isinstance(outcome, str):
            raise Unauthenticated("session_ended", SESSION_OVER[outcome])
        return outcome

    async def complete(self, session: LiveSession, cookie: str, client_address: str) -> SetupFinished:
        """Setup is done: a magic link's session ends here (its link is spent); a shareable link's goes on."""
        _, success_url = await self._portal.link_urls(session.link_id)
        if session.kind != "magic":
            return SetupFinished(False, success_url)
        ended = CloudEvent.wrap(
            PortalSessionEnded(
                organization_id=session.organization_id,
                session_id=session.session_id,
                link_id=session.link_id,
                reason="setup_completed",
                actor=Actor(kind="portal_session", id=session.session_id, client_address=client_address),
            ),
            source=SOURCE,
            time=self._clock.now(),
        )
        if await self._portal.end_session(session_key(cookie_digest(cookie)), queued(ended)):
            SESSIONS_ENDED.labels("completed").inc()
        self._relay.wake()
        return SetupFinished(True, success_url)

    async def revoke(self, revoked: PortalLinkRevoked, cause_event_id: str) -> Revoked:
        """The link refuses from now on and every session opened through it ends, each with one
        `session.ended` whose id derives from the revocation's, so a replayed revocation repeats it."""
        await self._portal.apply_link_revoked(revoked.link_id, revoked.organization_id)
        ended = 0
        for key, session_id in await self._portal.sessions_of_link(revoked.link_id):
            if session_id is not None:
                event = CloudEvent.wrap(
                    PortalSessionEnded(
                        organization_id=revoked.organization_id,
                        session_id=session_id,
                        link_id=revoked.link_id,
                        reason="link_revoked",
                        actor=revoked.actor,
                    ),
                    source=SOURCE,
                    time=self._clock.now(),
                    event_id=derived_event_id(cause_event_id, session_id),
                )
                ended += await self._portal.end_session(key, queued(event))
            await self._portal.forget_session_of_link(revoked.link_id, key)
        if ended:
            SESSIONS_ENDED.labels("revoked").inc(ended)
            self._relay.wake()
        return Revoked(ended)
