"""The loop both outbox relays run: a background task that repeats a step, is woken early when told,
and outlives failures of Kafka, Postgres or Redis by retrying with backoff."""
import asyncio

import structlog

log = structlog.get_logger("shared.relay")
MAX_BACKOFF_S = 5.0


class RelayLoop:
    """Subclasses implement `step()`: do one round of work, returning True when there may be more."""

    name = "relay"

    def __init__(self, poll_interval_s: float) -> None:
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> bool:
        raise NotImplementedError

    def wake(self) -> None:
        """Something was queued: run the next step now instead of after the poll interval."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def idle(self) -> None:
        """Wait until woken or until the poll interval passes."""
        try:
            await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
        except TimeoutError:
            pass

    async def _run(self) -> None:
        backoff_s = self._poll_interval_s
        while True:
            try:
                self._wake.clear()  # before the step, so a wake-up during it is not lost
                if not await self.step():
                    await self.idle()
                backoff_s = self._poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the queued events stay queued; try again later
                log.warning(f"{self.name}.failed", error=repr(error), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
