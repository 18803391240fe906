"""/readyz tells the truth: red while Redis or Postgres is down, green again once it is back; the console's
red, saying why, on a database link-issuer has not migrated."""
import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from shared.settings import Settings
from tests.integration.polling import eventually
from tests.integration.stack import ROOT, is_ours, run_script
from tests.integration.tls_proxy import unused_port


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
        console = await wait_for_status(http, "console", 503)
        assert console.json()["checks"] == {"postgres": "up", "schema": "up", "redis": "down"}, console.text
    finally:
        assert run_script("redis.sh", "start").returncode == 0
    for service in ("portal-session", "console"):
        up = await wait_for_status(http, service, 200)
        assert up.status_code == 200, f"{service}: {up.text}"


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
    for service in ("link-issuer", "connection-config", "audit", "console"):
        up = await wait_for_status(http, service, 200)
        assert up.status_code == 200, f"{service}: {up.text}"


async def test_the_console_on_a_database_link_issuer_has_not_migrated_is_not_ready_and_says_why(settings: Settings):
    # The server's maintenance database: it exists, and holds none of link-issuer's tables.
    dsn = urlunsplit(urlsplit(settings.link_issuer_database_url.get_secret_value())._replace(path="/postgres"))
    port = unused_port()
    console = subprocess.Popen(
        [sys.executable, "-m", "link_issuer.console"], cwd=ROOT,
        env={**os.environ, "PORTICO_CONSOLE_PORT": str(port), "PORTICO_LINK_ISSUER_DATABASE_URL": dsn},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=3) as client:

            async def readiness() -> httpx.Response | None:
                try:
                    return await client.get("/readyz")
                except httpx.HTTPError:
                    return None

            answer = await eventually(readiness, lambda r: r is not None or console.poll() is not None, timeout_s=30)
        assert console.poll() is None, "the console exited instead of waiting for the schema"
        assert answer is not None and answer.status_code == 503
        assert answer.json()["checks"] == {"postgres": "up", "schema": "down", "redis": "up"}
        assert "waiting for link-issuer to migrate" in answer.json()["problems"]["schema"]
        assert "link_issuer/0001_init.sql" in answer.json()["problems"]["schema"]
    finally:
        console.terminate()
        try:
            _, errors = console.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            console.kill()  # never leave it behind
            console.communicate(timeout=10)
            raise AssertionError("the console did not stop within 20 s of SIGTERM") from None
    assert "Traceback" not in errors, errors
