"""Redis adapter for portal-session: link state, sessions, the event outbox, failed-redemption counters.

Every decision that must be atomic (first redemption wins, a replayed `issued` never re-arms a link,
revocation ends sessions) is one Lua script; Redis's own clock (TIME) decides expiry, so replicas
with skewed clocks agree. Lua lives here and nowhere else.
"""
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from portico_events import PortalLinkIssued
from shared.redis_client import text

PREFIX = "portico:ps:"
OUTBOX_KEY = f"{PREFIX}outbox"
# A link's state outlives its expiry by this much, so a late or replayed `issued` event finds the
# tombstone instead of a blank slate (and is refused by time after that anyway).
TOMBSTONE_GRACE_S = 8 * 24 * 3600


def link_key(link_id: str) -> str:
    return f"{PREFIX}link:{link_id}"


def link_sessions_key(link_id: str) -> str:
    return f"{PREFIX}link:{link_id}:sessions"


def session_key(cookie_sha256: str) -> str:
    return f"{PREFIX}session:{cookie_sha256}"


def failures_key(client_address: str) -> str:
    return f"{PREFIX}redeem-failures:{client_address}"


_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"

# KEYS: link. ARGV: org, kind, expire, token_sha256, return_url, success_url, grace, traceparent (or '': tracing off).
_APPLY_ISSUED = _NOW + """
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- Never re-arm: only the redirect URLs, which a link redeemed before its event could not know, are filled in.
  if redis.call('HGET', KEYS[1], 'token_sha256') == ARGV[4] and redis.call('HGET', KEYS[1], 'return_url') == '' then
    redis.call('HSET', KEYS[1], 'return_url', ARGV[5], 'success_url', ARGV[6])
  end
  return 'known'
end
if tonumber(ARGV[3]) <= now then return 'expired' end
redis.call('HSET', KEYS[1], 'state', 'live', 'org', ARGV[1], 'kind', ARGV[2], 'expire', ARGV[3],
           'token_sha256', ARGV[4], 'return_url', ARGV[5], 'success_url', ARGV[6])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'traceparent', ARGV[8]) end
redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(ARGV[3]) + tonumber(ARGV[7])))
return 'armed'
"""

# KEYS: link, link sessions, session, outbox.
# ARGV: org, kind, expire, token_sha256, session_id, csrf, idle_s, max_s, grace, redeemed_event, started_event, link_id,
#       vouched, return_url, success_url.
# `vouched` is '1' when link-issuer (Postgres, the truth) has just said the link may open a session, and for a
# magic link has used it. Without that word a link Redis knows nothing of (not yet learnt from its event, or
# lost with Redis's data), and every magic link, answer 'unknown': the caller asks link-issuer and comes back.
# Single-node Redis: scripts also touch keys they read from a session (its link), which a cluster would refuse.
_REDEEM = _NOW + """
local link = KEYS[1]
local vouched = ARGV[13] == '1'
local state = redis.call('HGET', link, 'state')
if not state then
  if not vouched then return {'unknown'} end
  if tonumber(ARGV[3]) <= now then return {'expired'} end
  redis.call('HSET', link, 'state', 'live', 'org', ARGV[1], 'kind', ARGV[2], 'expire', ARGV[3],
             'token_sha256', ARGV[4], 'return_url', ARGV[14], 'success_url', ARGV[15])
  redis.call('EXPIREAT', link, math.ceil(tonumber(ARGV[3]) + tonumber(ARGV[9])))
  state = 'live'
end
-- A revocation tombstone made before the link's issue was seen has no token: the signature vouched for it.
local stored = redis.call('HGET', link, 'token_sha256')
if stored and stored ~= ARGV[4] then return {'invalid'} end
if state == 'revoked' then return {'revoked'} end
-- A magic link link-issuer has just used for this request is this request's, whatever a racing refusal
-- wrote back meanwhile (link-issuer says `used` to every other one).
if state == 'used' and not (vouched and ARGV[2] == 'magic') then return {'used'} end
local expire = tonumber(redis.call('HGET', link, 'expire') or ARGV[3])
if expire <= now then return {'expired'} end
if ARGV[2] == 'magic' then
  if not vouched then return {'unknown'} end
  redis.call('HSET', link, 'state', 'used', 'used_at', tostring(now))
end
local ends = now + tonumber(ARGV[8])
if ARGV[2] == 'shareable' and expire < ends then ends = expire end
redis.call('HSET', KEYS[3], 'id', ARGV[5], 'org', ARGV[1], 'link', KEYS[1], 'link_id', ARGV[12],
           'kind', ARGV[2], 'csrf', ARGV[6], 'created', tostring(now), 'ends', tostring(ends))
local ttl = math.min(tonumber(ARGV[7]), ends - now)
redis.call('PEXPIRE', KEYS[3], math.max(1, math.floor(ttl * 1000)))
redis.call('SADD', KEYS[2], KEYS[3])
redis.call('EXPIREAT', KEYS[2], math.ceil(expire + tonumber(ARGV[9])))
redis.call('RPUSH', KEYS[4], ARGV[10], ARGV[11])
return {'ok', tostring(ends)}
"""

# KEYS: link. ARGV: state (used|revoked), org, kind, expire, token_sha256, grace. What link-issuer said of a link
# Redis had forgotten, kept so the next attempt is refused without asking again.
_REMEMBER_REFUSED = """
if redis.call('HGET', KEYS[1], 'state') == 'revoked' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'org', ARGV[2], 'kind', ARGV[3], 'expire', ARGV[4], 'token_sha256', ARGV[5])
redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(ARGV[4]) + tonumber(ARGV[6])))
return 1
"""

# KEYS: session. ARGV: idle_s. Returns the session's fields, or why it is over.
_TOUCH = _NOW + """
local s = redis.call('HMGET', KEYS[1], 'id', 'org', 'link', 'kind', 'csrf', 'ends', 'link_id')
if not s[1] then return {'none'} end
local link_state = redis.call('HMGET', s[3], 'state', 'expire')
-- Refused, but left for the revocation's handler to end: it queues portal_session.ended for each session
-- of the link, which it could not do for one a request had already deleted (a race seen on a cold stack).
if link_state[1] == 'revoked' then return {'revoked'} end
local ends = tonumber(s[6])
if s[4] == 'shareable' and link_state[2] and tonumber(link_state[2]) < ends then ends = tonumber(link_state[2]) end
if ends <= now then redis.call('DEL', KEYS[1]); return {'expired'} end
redis.call('PEXPIRE', KEYS[1], math.max(1, math.floor(math.min(tonumber(ARGV[1]), ends - now) * 1000)))
return {'ok', s[1], s[2], s[7], s[4], s[5], tostring(ends)}
"""

# KEYS: session, outbox. ARGV: ended_event. Ends a session once; the event is queued only if it was live.
_END_SESSION = """
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"""

# KEYS: link. ARGV: org, grace. Marks a link revoked, creating a tombstone if its issue was never seen.
_APPLY_REVOKED = _NOW + """
local expire = redis.call('HGET', KEYS[1], 'expire')
redis.call('HSET', KEYS[1], 'state', 'revoked', 'org', ARGV[1])
if expire then
  redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(expire) + tonumber(ARGV[2])))
else
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
end
return 1
"""


@dataclass(frozen=True)
class LiveSession:
    session_id: str
    organization_id: str
    link_id: str
    kind: str
    csrf_token: str
    ends_at: float  # unix seconds


class PortalStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._apply_issued = redis.register_script(_APPLY_ISSUED)
        self._redeem = redis.register_script(_REDEEM)
        self._touch = redis.register_script(_TOUCH)
        self._end_session = redis.register_script(_END_SESSION)
        self._apply_revoked = redis.register_script(_APPLY_REVOKED)
        self._remember_refused = redis.register_script(_REMEMBER_REFUSED)

    async def remember_organization(self, organization_id: str, display_name: str, frame_ancestors: list[str]) -> None:
        await self.redis.hset(
            organization_key(organization_id),
            mapping={"display_name": display_name, "frame_ancestors": " ".join(frame_ancestors)},
        )

    async def organization_profile(self, organization_id: str) -> tuple[str | None, list[str]]:
        """(display name, allowed frame ancestors) as last learnt from organization events."""
        name, ancestors = await self.redis.hmget(organization_key(organization_id), "display_name", "frame_ancestors")
        return (text(name) if name else None), (text(ancestors).split() if ancestors else [])

    async def link_state(self, link_id: str) -> str | None:
        """The link's state as this store knows it (issued, used, revoked), or None if it knows nothing."""
        state = await self.redis.hget(link_key(link_id), "state")
        return text(state) if state is not None else None

    async def apply_links_issued(self, issued: Sequence[PortalLinkIssued], traceparents: Sequence[str] = ()) -> list[str]:
        """What each issued link's event does (armed, known or expired), in order, in one round trip: a
        pipeline, not a transaction (each script is atomic on its own link). `traceparents` (tracing on: one
        per link, '' for none) are kept with the links armed, for their redemptions to continue."""
        pipeline = self.redis.pipeline(transaction=False)
        for data, traceparent in zip(issued, traceparents or [""] * len(issued), strict=True):
            await self._apply_issued(
                keys=[link_key(data.link_id)],
                args=[data.organization_id, data.kind, repr(data.expire_time.timestamp()), data.token_sha256,
                      data.return_url or "", data.success_url or "", TOMBSTONE_GRACE_S, traceparent],
                client=pipeline,
            )
        return [result.decode() for result in await pipeline.execute()]

    async def redeem(
        self,
        *,
        link_id: str,
        org: str,
        kind: str,
        expire: float,
        token_sha256: str,
        cookie_sha256: str,
        session_id: str,
        csrf_token: str,
        idle_s: int,
        max_s: int,
        events: tuple[bytes, bytes],
        vouched: tuple[str, str] | None,
    ) -> tuple[str, float | None]:
        """('ok', session end) or (reason, None): reason is used|expired|revoked|invalid, or `unknown` when
        link-issuer must be asked first. `vouched` = (return_url, success_url) from link-issuer's yes."""
        result = await self._redeem(
            keys=[link_key(link_id), link_sessions_key(link_id), session_key(cookie_sha256), OUTBOX_KEY],
            args=[
                org, kind, repr(expire), token_sha256, session_id, csrf_token, idle_s, max_s, TOMBSTONE_GRACE_S,
                *events, link_id, "1" if vouched else "0", *(vouched or ("", "")),
            ],
        )
        status = result[0].decode()
        return (status, float(result[1])) if status == "ok" else (status, None)

    async def link_traceparent(self, link_id: str) -> str | None:
        """The trace context of the link's issue, kept when its event was applied with tracing on."""
        value = await self.redis.hget(link_key(link_id), "traceparent")
        return text(value) if value is not None else None

    async def remember_refused(self, link_id: str, state: str, org: str, kind: str, expire: float, token_sha256: str) -> None:
        await self._remember_refused(
            keys=[link_key(link_id)], args=[state, org, kind, repr(expire), token_sha256, TOMBSTONE_GRACE_S]
        )

    async def touch_session(self, cookie_sha256: str, idle_s: int) -> LiveSession | str:
        """The live session (its idle timer restarted), or why there is none: none|revoked|expired."""
        result = await self._touch(keys=[session_key(cookie_sha256)], args=[idle_s])
        status: str = result[0].decode()
        if status != "ok":
            return status
        session_id, org, link_id, kind, csrf, ends = (value.decode() for value in result[1:])
        return LiveSession(session_id, org, link_id, kind, csrf, float(ends))

    async def end_session(self, session_key_name: str, ended_event: bytes) -> bool:
        return bool(await self._end_session(keys=[session_key_name, OUTBOX_KEY], args=[ended_event]))

    async def apply_link_revoked(self, link_id: str, org: str) -> None:
        await self._apply_revoked(keys=[link_key(link_id)], args=[org, TOMBSTONE_GRACE_S])

    async def sessions_of_link(self, link_id: str) -> list[tuple[str, str | None]]:
        """(session key, public session id) for every session opened through the link."""
        keys = [text(key) for key in await self.redis.smembers(link_sessions_key(link_id))]
        ids = [await self.redis.hget(key, "id") for key in keys]
        return [(key, None if value is None else text(value)) for key, value in zip(keys, ids, strict=True)]

    async def forget_session_of_link(self, link_id: str, session_key_name: str) -> None:
        await self.redis.srem(link_sessions_key(link_id), session_key_name)

    async def link_urls(self, link_id: str) -> tuple[str | None, str | None]:
        return_url, success_url = await self.redis.hmget(link_key(link_id), "return_url", "success_url")
        return text(return_url or b"") or None, text(success_url or b"") or None

    async def redemption_failures(self, client_address: str) -> int:
        """Failed redemptions from this address in the current window."""
        return int(await self.redis.get(failures_key(client_address)) or 0)

    async def failure_window_left(self, client_address: str) -> int:
        """Seconds until the address's failure window resets."""
        return max(int(await self.redis.ttl(failures_key(client_address))), 1)

    async def count_redemption_failure(self, client_address: str, window_s: int = 60) -> None:
        key = failures_key(client_address)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_s, nx=True)
            await pipe.execute()


def organization_key(organization_id: str) -> str:
    return f"{PREFIX}org:{organization_id}"
