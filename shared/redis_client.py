"""The asyncio Redis client, with timeouts short enough that a dead Redis fails fast."""
from redis.asyncio import Redis


def create_redis(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0, health_check_interval=10)
