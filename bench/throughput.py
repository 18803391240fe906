"""Closed-loop load at a fixed concurrency, and the ramp that finds the highest rate whose p99 stays under a ceiling.

A step runs `concurrency` workers, each sending its next request as soon as the previous one answered,
for a bounded number of seconds; everything runs in this (driver) process, against loopback only.
"""
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bench.stats import percentile

# One request: True when it succeeded.
Request = Callable[[], Awaitable[bool]]

RAMP = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class Step:
    concurrency: int
    requests: int
    failures: int
    seconds: float
    p50_s: float
    p99_s: float

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.failures) / self.seconds if self.seconds > 0 else 0.0


async def run_step(request: Request, concurrency: int, seconds: float) -> Step:
    latencies: list[float] = []
    failures = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal failures
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                ok = await request()
            except Exception:  # a timeout or refused connection is a failed request, not a crashed bench
                ok = False
            latencies.append(time.perf_counter() - start)
            failures += not ok

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Step(concurrency, len(latencies), failures, time.monotonic() - started,
                percentile(latencies, 50), percentile(latencies, 99))


def within_ceiling(step: Step, p99_ceiling_s: float) -> bool:
    return step.requests > 0 and step.failures == 0 and step.p99_s < p99_ceiling_s


def best_step(steps: Sequence[Step], p99_ceiling_s: float) -> Step | None:
    """The step with the highest rate among those with no failures and p99 under the ceiling."""
    sustained = [step for step in steps if within_ceiling(step, p99_ceiling_s)]
    return max(sustained, key=lambda step: step.rate, default=None)


async def ramp(request: Request, seconds_per_step: float, p99_ceiling_s: float,
               concurrencies: Sequence[int] = RAMP) -> list[Step]:
    """Steps at rising concurrency; stops after the first one over the ceiling (more load only queues longer)."""
    steps = []
    for concurrency in concurrencies:
        step = await run_step(request, concurrency, seconds_per_step)
        steps.append(step)
        if not within_ceiling(step, p99_ceiling_s):
            break
    return steps


def step_rows(title: str, steps: Sequence[Step]) -> list[dict[str, object]]:
    return [
        {"load": title, "concurrency": s.concurrency, "requests": s.requests, "failures": s.failures,
         "per s": s.rate, "p50 ms": s.p50_s * 1000, "p99 ms": s.p99_s * 1000}
        for s in steps
    ]
