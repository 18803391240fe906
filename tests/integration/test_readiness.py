"""/readyz tells the truth: red while Redis or Postgres is down, green again once it is back."""
import httpx
import pytest

from tests.integration.polling import eventually
from tests.integration.stack import is_ours, run_script


async def wait_for_status(http: httpx.AsyncClient, service: str, status: int) -> httpx.Response:
    return await eventually(
        lambda: http.get(f"/internal/health/{service}/readyz"), lambda r: r.status_code == status, timeout_s=20
    )


def require_ours(component: str) -> None:
    if not is_ours(component):
        pytest.skip(f"{component} was not started by deploy/local; the test stops only what we started")


async def test_readiness_turns_red_without_redis_and_green_after_restart(http: httpx.AsyncClient):
    require_ours("redis")
    assert run_script("redis.sh", "stop").returncode == 0
    try:
        down = await wait_for_status(http, "portal-session", 503)
        assert down.status_code == 503
        assert down.json()["checks"] == {"kafka": "up", "redis": "down"}
    finally:
        assert run_script("redis.sh", "start").returncode == 0
    up = await wait_for_status(http, "portal-session", 200)
    assert up.status_code == 200, up.text


async def test_readiness_turns_red_without_postgres_and_green_after_restart(http: httpx.AsyncClient):
    require_ours("postgres")
    assert run_script("postgres.sh", "stop").returncode == 0
    try:
        down = await wait_for_status(http, "audit", 503)
        assert down.status_code == 503
        assert down.json()["checks"]["postgres"] == "down"
    finally:
        started = run_script("postgres.sh", "start")
        assert started.returncode == 0, started.stderr
    for service in ("link-issuer", "connection-config", "audit"):
        up = await wait_for_status(http, service, 200)
        assert up.status_code == 200, f"{service}: {up.text}"
