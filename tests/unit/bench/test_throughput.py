"""The issuance ramp's choice: the highest rate whose p99 stays under the ceiling, with no failures."""
import asyncio
import math

from bench.throughput import Step, best_step, ramp, run_step

CEILING_S = 0.100


def step(concurrency: int, requests: int, p99_s: float, failures: int = 0, seconds: float = 1.0) -> Step:
    return Step(concurrency, requests, failures, seconds, p50_s=p99_s / 2, p99_s=p99_s)


def test_rate_counts_only_successful_requests():
    assert step(4, 300, 0.02, failures=100, seconds=2.0).rate == 100.0


def test_best_step_is_the_fastest_under_the_ceiling():
    steps = [step(1, 100, 0.010), step(2, 180, 0.020), step(4, 400, 0.090), step(8, 500, 0.150)]
    assert best_step(steps, CEILING_S) == steps[2]


def test_a_step_over_the_ceiling_never_wins_however_fast():
    steps = [step(1, 100, 0.010), step(2, 900, 0.100)]  # exactly at the ceiling is not under it
    assert best_step(steps, CEILING_S) == steps[0]


def test_a_step_with_failures_never_wins():
    steps = [step(1, 100, 0.010), step(2, 200, 0.020, failures=1)]
    assert best_step(steps, CEILING_S) == steps[0]


def test_throughput_that_falls_at_higher_concurrency_keeps_the_earlier_peak():
    steps = [step(4, 400, 0.030), step(8, 350, 0.060), step(16, 300, 0.095)]
    assert best_step(steps, CEILING_S) == steps[0]


def test_no_step_under_the_ceiling_means_no_sustained_rate():
    assert best_step([step(1, 10, 0.5)], CEILING_S) is None
    assert best_step([], CEILING_S) is None


def test_ramp_stops_after_the_first_step_over_the_ceiling():
    calls: list[int] = []

    async def slow_when_crowded() -> bool:
        calls.append(1)
        await asyncio.sleep(0.001 if len(calls) < 40 else 0.2)
        return True

    steps = asyncio.run(ramp(slow_when_crowded, 0.05, CEILING_S, concurrencies=(1, 2, 4, 8, 16)))
    assert [s.concurrency for s in steps][-1] < 16
    assert not steps[-1].p99_s < CEILING_S


def test_run_step_counts_exceptions_as_failures():
    async def refused() -> bool:
        raise ConnectionError

    result = asyncio.run(run_step(refused, 2, 0.01))
    assert result.requests == result.failures > 0
    assert result.rate == 0.0
    assert not math.isnan(result.p99_s)
