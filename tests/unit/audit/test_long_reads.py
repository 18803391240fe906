"""Whole-log reads never pile up: one at a time, and stopped when the caller has gone."""
import asyncio

from audit.long_reads import OneAtATime, until_disconnected


def test_a_second_claim_is_refused_until_the_first_is_released():
    guard = OneAtATime()
    assert guard.try_claim()
    assert not guard.try_claim()
    guard.release()
    assert guard.try_claim()


async def test_work_that_finishes_returns_its_result():
    async def work() -> str:
        await asyncio.sleep(0.01)
        return "ok"

    async def never() -> bool:
        return False

    assert await until_disconnected(work(), never, poll_s=0.005) == (True, "ok")


async def test_work_is_cancelled_soon_after_the_caller_disconnects():
    cancelled = asyncio.Event()
    polls = 0

    async def endless() -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    async def gone_after_three_polls() -> bool:
        nonlocal polls
        polls += 1
        return polls >= 3

    finished, result = await asyncio.wait_for(until_disconnected(endless(), gone_after_three_polls, poll_s=0.01), 5)
    assert (finished, result) == (False, None)
    assert cancelled.is_set() and polls == 3
