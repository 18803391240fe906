"""Fixtures for every test folder: the real stack (integration and e2e), database pools, Redis and Kafka
clients, the sign-in tests' Keycloak, all on loopback. Unit tests request none of them, so they never
start a server."""
import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker
from redis.asyncio import Redis

from shared.broker import make_broker
from shared.db import create_pool
from shared.redis_client import create_redis
from shared.settings import Settings
from tests.factories import create_api_key
from tests.integration.keycloak.admin import KeycloakRealm, running_keycloak
from tests.integration.stack import ROOT, Stack, bring_up, tear_down

STACK_MODE = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if STACK_MODE in config.stash:
        terminalreporter.write_line(f"integration stack: {config.stash[STACK_MODE]}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path) or "tests/e2e" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    running = bring_up()
    request.config.stash[STACK_MODE] = running.mode
    load_local_secrets()
    yield running
    tear_down(running)


def load_local_secrets() -> None:
    """The per-machine secrets deploy/local made, so tests can sign, vouch and decrypt like the services."""
    secrets_file = ROOT / ".run" / "secrets.env"
    if secrets_file.exists():
        for line in secrets_file.read_text().splitlines():
            name, _, value = line.partition("=")
            os.environ.setdefault(name, value)


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    return Settings()


@pytest.fixture(scope="session")
async def api_key(settings: Settings) -> str:
    _, key = await create_api_key(settings, "integration tests")
    return key


@pytest.fixture
async def api(proxy_url: str, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A management API client with a valid key."""
    async with httpx.AsyncClient(
        base_url=proxy_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def redis_client(stack: Stack, settings: Settings) -> AsyncIterator[Redis]:
    client = create_redis(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def proxy_url(stack: Stack, settings: Settings) -> str:
    return settings.public_url


@pytest.fixture
async def http(proxy_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxy_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def link_issuer_db(stack: Stack, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.link_issuer_database_url.get_secret_value(), max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def audit_db(stack: Stack, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.audit_database_url.get_secret_value(), max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def kafka(stack: Stack, settings: Settings) -> AsyncIterator[KafkaBroker]:
    broker = make_broker(settings, "portico-tests")
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture(scope="session")
async def keycloak() -> AsyncIterator[KeycloakRealm]:
    """A realm of its own in a real Keycloak on loopback (deploy/local/keycloak.sh), the sign-in tests'
    identity provider. Keycloak is started if it is not running, and then stopped at the end; without
    Java 21+ the tests that ask for it fail saying so."""
    async with running_keycloak() as realm:
        yield realm
