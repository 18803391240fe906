"""Portal sessions after redemption: the live session behind a cookie, and finishing setup (which ends a
magic link's session). The flows the routes and the pages call; routes only translate their outcomes."""
import hashlib
from dataclasses import dataclass

from portal_session.domain import SESSION_OVER, SOURCE
from portal_session.store import LiveSession, PortalStore, session_key
from portico_events import Actor, CloudEvent, PortalSessionEnded
from shared.errors import Unauthenticated
from shared.ids import Clock
from shared.redis_outbox import RedisOutboxRelay


def cookie_digest(cookie: str) -> str:
    """The only form of a session cookie that is stored."""
    return hashlib.sha256(cookie.encode()).hexdigest()


@dataclass(frozen=True)
class SetupFinished:
    ended: bool  # a magic link's session ends; a shareable link's goes on
    success_url: str | None


class PortalSessions:
    def __init__(self, portal: PortalStore, relay: RedisOutboxRelay, clock: Clock, idle_s: int) -> None:
        self._portal = portal
        self._relay = relay
        self._clock = clock
        self._idle_s = idle_s

    async def current(self, cookie: str | None) -> LiveSession:
        """The live session behind this cookie (its idle timer restarted), or a 401 saying why there is none."""
        if not cookie:
            raise Unauthenticated("no_session", SESSION_OVER["none"])
        outcome = await self._portal.touch_session(cookie_digest(cookie), self._idle_s)
        if isinstance(outcome, str):
            raise Unauthenticated("session_ended", SESSION_OVER[outcome])
        return outcome

    async def finish_setup(self, session: LiveSession, cookie: str, client_address: str) -> SetupFinished:
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
        await self._portal.end_session(session_key(cookie_digest(cookie)), ended.to_bytes())
        self._relay.wake()
        return SetupFinished(True, success_url)
