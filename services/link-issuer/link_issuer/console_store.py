"""Redis adapter of the operator console: sessions (under their token's SHA-256) and sign-in failure counters.

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

# KEYS[1] account counter, KEYS[2] address counter; ARGV window seconds. Both counts after this failure.
_COUNT_FAILURE = """
local account = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local address = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return {account, address}
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
class FailureCounts:
    account: int
    address: int
    account_ttl_s: int  # how long each counter still lives (a lock lasts as long as its counter)
    address_ttl_s: int


class ConsoleStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._create = redis.register_script(_CREATE)
        self._touch = redis.register_script(_TOUCH)
        self._count = redis.register_script(_COUNT_FAILURE)

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

    async def failures(self, email: str, client_address: str) -> FailureCounts:
        account_key, address_key = account_failures_key(email), address_failures_key(client_address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(account_key).get(address_key).ttl(account_key).ttl(address_key)
            account, address, account_ttl, address_ttl = await pipe.execute()
        return FailureCounts(int(account or 0), int(address or 0), max(int(account_ttl), 1), max(int(address_ttl), 1))

    async def count_failure(self, email: str, client_address: str, window_s: int) -> FailureCounts:
        account, address = await self._count(
            keys=[account_failures_key(email), address_failures_key(client_address)], args=[window_s]
        )
        return FailureCounts(int(account), int(address), window_s, window_s)

    async def clear_account_failures(self, email: str) -> None:
        await self.redis.delete(account_failures_key(email))
