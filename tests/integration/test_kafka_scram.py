"""The services speak SASL/SCRAM to Kafka with the settings the Helm chart renders, and say so when
the password is wrong."""
import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from portico_events import TOPIC_LINKS, TOPIC_SESSIONS
from shared.settings import Settings
from tests.factories import create_organization
from tests.integration.kafka_tap import KafkaTap
from tests.integration.polling import eventually
from tests.integration.stack import ROOT, SERVICES, is_ours, run_script, services_ready

SCRAM_PORT = 9094


def scram_environment(password: str) -> dict[str, str]:
    """What the chart sets for a cluster that requires SCRAM (see deploy/helm/portico)."""
    return {
        "PORTICO_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{SCRAM_PORT}",
        "PORTICO_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "PORTICO_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "PORTICO_KAFKA_SASL_USERNAME": "portico",
        "PORTICO_KAFKA_SASL_PASSWORD": password,
    }


def restart_services(env: dict[str, str] | None) -> None:
    assert run_script("services.sh", "stop").returncode == 0
    started = run_script("services.sh", "start", env=env)
    assert started.returncode == 0, started.stderr


async def all_ready(settings: Settings) -> bool:
    return await services_ready(
        [settings.link_issuer_port, settings.portal_session_port, settings.connection_config_port, settings.audit_port,
         settings.console_port]
    )


@pytest.fixture
async def services_on_scram(settings: Settings) -> Iterator[None]:
    if not (is_ours("kafka") and (ROOT / ".run" / "kafka" / "scram-user").exists()):
        pytest.skip("needs the Kafka started by deploy/local, which has the SCRAM listener")
    restart_services(scram_environment(os.environ["PORTICO_KAFKA_SCRAM_LOCAL_PASSWORD"]))
    try:
        assert await eventually(lambda: all_ready(settings), bool, timeout_s=60), f"{SERVICES} not ready on SCRAM"
        yield
    finally:
        restart_services(None)
        assert await eventually(lambda: all_ready(settings), bool, timeout_s=60)


async def test_link_flow_runs_with_kafka_requiring_scram(
    services_on_scram: None, api: httpx.AsyncClient, proxy_url: str, settings: Settings, redis_client: Redis
):
    async with (
        KafkaTap(settings.kafka_bootstrap_servers, TOPIC_LINKS) as links,
        KafkaTap(settings.kafka_bootstrap_servers, TOPIC_SESSIONS) as sessions,
    ):
        org_id = await create_organization(api, "Scram Inc.")
        link = (await api.put(f"/api/v1/organizations/{org_id}/portal_links", json={"success_url": "http://127.0.0.1:8080/ok"})).json()["link"]
        async with httpx.AsyncClient(base_url=proxy_url) as browser:
            assert (await browser.get(urlsplit(link["location"]).path)).status_code == 303
        issued = await links.wait_for(lambda e: e.subject == org_id, count=2)
        started = await sessions.wait_for(lambda e: e.subject == org_id, count=2)
    assert [e.type for e in issued] == ["portico.organization.created", "portico.portal_link.issued"]
    assert {e.type for e in started} == {"portico.portal_link.redeemed", "portico.portal_session.started"}
    # portal-session consumed the issued event over SCRAM: only the event carries success_url.
    applied = await eventually(lambda: redis_client.hget(f"portico:ps:link:{link['id']}", "success_url"), lambda v: v == b"http://127.0.0.1:8080/ok")
    assert applied == b"http://127.0.0.1:8080/ok"


async def test_a_wrong_scram_password_turns_readyz_red_saying_why(settings: Settings):
    if not (is_ours("kafka") and (ROOT / ".run" / "kafka" / "scram-user").exists()):
        pytest.skip("needs the Kafka started by deploy/local, which has the SCRAM listener")
    port = 8142
    process = subprocess.Popen(
        [sys.executable, "-m", "portal_session"],
        cwd=ROOT,
        env={**os.environ, **scram_environment("not-the-password"), "PORTICO_PORTAL_SESSION_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=3) as client:

            async def readiness() -> httpx.Response | None:
                try:
                    return await client.get("/readyz")
                except httpx.HTTPError:
                    return None

            answer = await eventually(
                readiness,
                lambda r: r is not None and "Sasl" in r.json().get("problems", {}).get("kafka", ""),
                timeout_s=30,
            )
        assert answer is not None and answer.status_code == 503
        assert answer.json()["checks"] == {"kafka": "down", "redis": "up"}
        assert "SaslAuthenticationFailed" in answer.json()["problems"]["kafka"]
        assert "invalid credentials" in answer.json()["problems"]["kafka"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave it behind, whatever the assertion below says
            process.wait(timeout=10)
            raise AssertionError("portal-session did not stop within 20 s of SIGTERM") from None
