"""A service without a broker (the console): /readyz does not ask for Kafka, the lifespan never connects to it,
and an outbox relay, which only publishes to Kafka, cannot be asked for."""
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from shared.health import schema_ready
from shared.runtime import PoolSpec, ServiceRuntime
from shared.settings import Settings

UNREACHABLE_KAFKA = Settings(kafka_bootstrap_servers="127.0.0.1:1")


def test_readyz_of_a_service_without_a_broker_checks_no_kafka():
    runtime = ServiceRuntime(
        name="console", settings=UNREACHABLE_KAFKA, broker=None, pools=[PoolSpec("main", "postgresql://x@127.0.0.1:1/x")],
        schema_check=lambda pool: schema_ready(pool, "link-issuer", "link_issuer", Path("unused")),
    )
    assert list(runtime.readiness_checks()) == ["postgres", "schema"]


def test_an_outbox_relay_needs_a_broker():
    with pytest.raises(ValueError, match="needs a broker"):
        ServiceRuntime(name="console", settings=UNREACHABLE_KAFKA, broker=None, relay_outbox=True)


async def test_a_service_without_a_broker_starts_serves_and_stops_without_kafka():
    runtime = ServiceRuntime(name="console", settings=UNREACHABLE_KAFKA, broker=None)
    app = runtime.http_app()
    async with runtime.lifespan(FastAPI()):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "service": "console", "checks": {}}


async def test_schema_readiness_without_a_pool_is_not_ready():
    assert await schema_ready(None, "link-issuer", "link_issuer", Path("unused")) is False
