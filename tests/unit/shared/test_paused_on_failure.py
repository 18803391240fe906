"""A batch handler whose writes fail waits before the batch is delivered again, says so once, and re-raises."""
import time

import pytest

from shared.broker import paused_on_failure


class Logger:
    def __init__(self) -> None:
        self.errors: list[tuple[str, dict[str, object]]] = []

    def error(self, event: str, **fields: object) -> None:
        self.errors.append((event, fields))


async def test_a_failure_is_logged_paused_on_and_raised_again_and_success_passes_through():
    logger = Logger()
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        async with paused_on_failure(logger, "thing.not_recorded", 0.2, events=3):
            raise ConnectionError("redis down")
    assert time.monotonic() - started >= 0.2
    assert logger.errors == [("thing.not_recorded", {"error": "ConnectionError('redis down')", "retry_in_s": 0.2,
                                                     "events": 3})]
    async with paused_on_failure(logger, "thing.not_recorded", 0.2):
        pass
    assert len(logger.errors) == 1
