"""Every console test starts and ends with no sign-in failures counted against 127.0.0.1, the address all
of them come from: one test's wrong passwords never lock another test out."""
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.integration.console import forget_loopback_failures


@pytest.fixture(autouse=True)
async def _clean_address_count(redis_client: Redis) -> AsyncIterator[None]:
    await forget_loopback_failures(redis_client)
    yield
    await forget_loopback_failures(redis_client)
