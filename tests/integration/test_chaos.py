"""The short form of `make chaos`: Kafka frozen, every service killed with SIGKILL in turn, Redis and
Postgres stopped, every topic redelivered from offset zero, each while a driver process runs real
operations. Nothing committed is lost or recorded twice, no magic link opens twice, every failure is
a clean JSON answer, and the stack is ready again without a human (bench/chaos, docs/reliability.md)."""
import pytest

from bench.chaos.faults import is_ours
from bench.chaos.runner import restore, run_scenario, wait_ready
from bench.chaos.scenarios import short_run
from shared.settings import Settings
from tests.integration.stack import Stack

COMPONENTS = ("kafka", "redis", "postgres", "link-issuer", "portal-session", "connection-config", "audit")


@pytest.fixture
async def breakable_stack(stack: Stack, settings: Settings):
    missing = [c for c in COMPONENTS if not is_ours(c)]
    if missing:
        pytest.skip(f"not started by deploy/local, so not ours to break: {', '.join(missing)}")
    try:
        yield
    finally:
        try:
            await wait_ready(settings, timeout_s=60)
        except TimeoutError:
            await restore(settings)  # the tests after this one get the whole stack back, ready


async def test_faults_mid_load_lose_double_and_reopen_nothing(breakable_stack: None, settings: Settings, api_key: str):
    results = [await run_scenario(scenario, settings, api_key, settle_timeout_s=60) for scenario in short_run(settings)]
    for result in results:
        assert result.attempted >= 20, result
        assert result.succeeded > 0, result
        assert result.lost == 0, result.details
        assert result.duplicated == 0, result.details
        assert result.double_redemptions == 0, result.details
        assert result.unclean == 0, result.details
