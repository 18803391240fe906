"""A background task that runs one coroutine now and then every `interval_s` (a `shared.runtime.Component`): the
metrics' samplers, the event-loop monitor, audit's scheduled verification. A failing round (a database away) is
logged and the next one comes on schedule; it never ends the task."""
import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("shared.periodic")


class Periodic:
    def __init__(
        self, name: str, work: Callable[[], Awaitable[object]], interval_s: float, *, first_after_s: float = 0.0
    ) -> None:
        self.name = name
        self._work = work
        self._interval_s = interval_s
        self._first_after_s = first_after_s
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self._first_after_s)
        while True:
            try:
                await self._work()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("periodic.failed", task=self.name, error=repr(error), retry_in_s=self._interval_s)
            await asyncio.sleep(self._interval_s)
