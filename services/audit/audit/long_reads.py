"""Guards for reads that can take minutes, such as verifying the whole log.

Such a read holds one of the reader pool's few connections for as long as it runs. Left alone, a
handful of impatient callers (each retrying after giving up) can hold every connection and turn all
audit reads into 503s. So: at most one whole-log read runs per instance, and it stops as soon as its
caller has gone away.
"""
import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

T = TypeVar("T")


class OneAtATime:
    """A non-blocking claim: `try_claim()` is False while another holder runs."""

    def __init__(self) -> None:
        self._held = False

    def try_claim(self) -> bool:
        if self._held:
            return False
        self._held = True
        return True

    def release(self) -> None:
        self._held = False


async def until_disconnected(
    work: Awaitable[T], disconnected: Callable[[], Awaitable[bool]], poll_s: float = 1.0
) -> tuple[bool, T | None]:
    """Run `work`, checking every `poll_s` whether the caller is still there; cancel it if not.

    Returns (True, result) when it finished, (False, None) when it was cancelled for a gone caller.
    """
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll_s)
            if done:
                return True, task.result()
            if await disconnected():
                return False, None
    finally:
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
