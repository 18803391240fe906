"""Redis adapter of the operator console: sessions (under their token's SHA-256) and sign-in attempt counters.

Times are Redis's own (`TIME` inside the scripts), so replicas with skewed clocks agree on idle and
absolute expiry, as portal-session's scripts do.
"""
import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis

PREFIX = "portico:console:"

# KEYS[1] session; ARGV operator id, csrf token, idle ms, absolute ms. Returns the session's start (ms).
_CREATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'operator_id', ARGV[1], 'csrf_token', ARGV[2],
           'started_ms', now, 'ends_ms', now + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[3]), tonumber(ARGV[4])))
return now
"""

# KEYS[1] session; ARGV idle ms. The session, its idle timer restarted (never past its absolute end), or nil.
_TOUCH = """
local s = redis.call('HMGET', KEYS[1], 'operator_id', 'csrf_token', 'started_ms', 'ends_ms')
if not s[1] then return nil end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local left = tonumber(s[4]) - now
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return nil
end
redis.call('PEXPIRE', KEYS[1], math.min(tonumber(ARGV[1]), left))
return s
"""

# KEYS[1] account counter, KEYS[2] address counter; ARGV account limit, address limit, window seconds.
# Counts one attempt on both before its password is checked, in one step, so parallel attempts cannot all
# read "not locked" first: {1, account, address} with the counts including it, or, when either counter
# is already at its limit, {0, seconds until every counter at its limit has expired} and nothing counted.
_RESERVE_ATTEMPT = """
local account = tonumber(redis.call('GET', KEYS[1]) or '0')
local address = tonumber(redis.call('GET', KEYS[2]) or '0')
local locked_account = account >= tonumber(ARGV[1])
if locked_account or address >= tonumber(ARGV[2]) then
  local wait = 1
  if locked_account then wait = math.max(wait, redis.call('TTL', KEYS[1])) end
  if address >= tonumber(ARGV[2]) then wait = math.max(wait, redis.call('TTL', KEYS[2])) end
  return {0, wait}
end
account = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
address = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {1, account, address}
"""

# KEYS[1] account counter, KEYS[2] address counter; ARGV[1] '1' to clear the account's count (a sign-in
# succeeded). Gives back one reserved attempt on each counter, never below zero.
_RELEASE_ATTEMPT = """
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
"""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_key(token: str) -> str:
    return f"{PREFIX}session:{token_digest(token)}"


def account_failures_key(email: str) -> str:
    """Keyed by the email's hash: Redis never holds an address, and unknown emails count the same way."""
    return f"{PREFIX}sign-in-failures:account:{hashlib.sha256(email.encode()).hexdigest()}"


def address_failures_key(client_address: str) -> str:
    return f"{PREFIX}sign-in-failures:address:{client_address}"


@dataclass(frozen=True)
class StoredSession:
    operator_id: str
    csrf_token: str
    started_ms: int


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt's place in the failure counts: `granted` (counted, may be checked) with the counts
    including it, or refused because a counter was at its limit, for `retry_after_s`."""

    granted: bool
    account: int = 0
    address: int = 0
    retry_after_s: int = 0


class ConsoleStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._create = redis.register_script(_CREATE)
        self._touch = redis.register_script(_TOUCH)
        self._reserve = redis.register_script(_RESERVE_ATTEMPT)
        self._release = redis.register_script(_RELEASE_ATTEMPT)

    async def create_session(self, token: str, operator_id: str, csrf_token: str, idle_s: int, max_s: int) -> int:
        started = await self._create(keys=[session_key(token)], args=[operator_id, csrf_token, idle_s * 1000, max_s * 1000])
        return int(started)

    async def touch_session(self, token: str, idle_s: int) -> StoredSession | None:
        found = await self._touch(keys=[session_key(token)], args=[idle_s * 1000])
        if not found:
            return None
        operator_id, csrf_token, started_ms, _ = (v.decode() if isinstance(v, bytes) else v for v in found)
        return StoredSession(operator_id, csrf_token, int(started_ms))

    async def end_session(self, token: str) -> None:
        await self.redis.delete(session_key(token))

    async def reserve_attempt(
        self, email: str, client_address: str, max_account: int, max_address: int, window_s: int
    ) -> Attempt:
        found = await self._reserve(
            keys=[account_failures_key(email), address_failures_key(client_address)],
            args=[max_account, max_address, window_s],
        )
        if int(found[0]) == 1:
            return Attempt(True, int(found[1]), int(found[2]))
        return Attempt(False, retry_after_s=int(found[1]))

    async def release_attempt(self, email: str, client_address: str, *, clear_account: bool = False) -> None:
        """Give back a reserved attempt that did not fail (a right password, or one never checked)."""
        await self._release(keys=[account_failures_key(email), address_failures_key(client_address)],
                            args=["1" if clear_account else "0"])
