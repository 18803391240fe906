"""The asyncio Redis client: short timeouts so a dead Redis fails fast, and one quiet retry so a
connection left stale by a Redis restart is replaced instead of failing the request."""
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def text(value: bytes | str) -> str:
    """A Redis reply as text: this client answers bytes (it does not decode), though redis-py's hints allow str."""
    return value.decode() if isinstance(value, bytes) else value


def create_redis(url: str) -> Redis:
    return Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
