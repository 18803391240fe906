"""Wait for something the system does asynchronously, bounded in time."""
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout_s: float = 15) -> T:
    """Call `read` until `done(value)` or the timeout; return the last value either way."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)
