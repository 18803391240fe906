"""Brings the real Kafka, Redis, Postgres and Portico's services up for the integration tests.

On a machine with a Docker engine the infrastructure comes from testcontainers (published on the
same loopback ports the local scripts use, so everything else is identical); otherwise from
deploy/local, which runs Kafka from its jars and Postgres/Redis from Debian packages.
"""
import asyncio
import os
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"
# Every service process deploy/local runs (the console is link-issuer's package in a process of its own).
SERVICES = ("link-issuer", "portal-session", "connection-config", "audit", "console")
log = structlog.get_logger("tests.stack")


async def services_ready(ports: Iterable[int]) -> bool:
    """True when every service instance on these loopback ports answers /readyz with 200."""
    async with httpx.AsyncClient(timeout=3) as client:
        try:
            answers = await asyncio.gather(*(client.get(f"http://127.0.0.1:{port}/readyz") for port in ports))
        except httpx.HTTPError:
            return False
    return all(answer.status_code == 200 for answer in answers)


def docker_engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run_script(
    script: str, *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a deploy/local script; `env` adds variables to this process's environment for it."""
    return subprocess.run(
        ["bash", str(LOCAL / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def is_ours(component: str) -> bool:
    """True when deploy/local started `component` (so a test may stop and restart it)."""
    return (ROOT / ".run" / "pids" / f"{component}.pid").exists()


@dataclass
class Stack:
    mode: str
    started_here: bool
    containers: list[object]


def start_infra_in_containers() -> list[object]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    postgres = (
        DockerContainer("postgres:15-bookworm")
        .with_env("POSTGRES_USER", "portico")
        # Loopback only and thrown away after the run: Portico's roles come in without a password, as
        # deploy/local's private cluster lets them.
        .with_env("POSTGRES_HOST_AUTH_METHOD", "trust")
        .with_volume_mapping(str(ROOT / "deploy/docker/postgres-init.sql"), "/docker-entrypoint-initdb.d/init.sql")
        .with_bind_ports(5432, 5432)
    )
    redis = DockerContainer("redis:7-bookworm").with_bind_ports(6379, 6379)
    kafka = (
        DockerContainer("apache/kafka:4.1.1")
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://127.0.0.1:9092")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_bind_ports(9092, 9092)
    )
    containers = [postgres.start(), redis.start(), kafka.start()]
    wait_for_logs(postgres, "database system is ready to accept connections", timeout=60)
    wait_for_logs(kafka, "Kafka Server started", timeout=60)
    return containers


def bring_up() -> Stack:
    already_up = all(is_ours(name) for name in SERVICES) and run_script("services.sh", "status").returncode == 0
    if already_up:
        log.info("stack.reusing_running_stack")
        return Stack(mode="already running", started_here=False, containers=[])
    containers: list[object] = []
    mode = "deploy/local (no Docker engine answered)"
    if docker_engine_answers():
        mode = "testcontainers for Kafka, Redis, Postgres"
        containers = start_infra_in_containers()
    log.info("stack.starting", mode=mode)
    result = run_script("up.sh")
    if result.returncode != 0:
        raise RuntimeError(f"make up failed:\n{result.stdout}\n{result.stderr}")
    return Stack(mode=mode, started_here=True, containers=containers)


def tear_down(stack: Stack) -> None:
    if not stack.started_here:
        return
    run_script("down.sh", timeout=120)
    for container in stack.containers:
        container.stop()  # type: ignore[attr-defined]


def _connection_config(action: str, env: dict[str, str]) -> None:
    result = run_script("services.sh", action, "connection-config", timeout=60, env=env)
    assert result.returncode == 0, result.stderr


def _wait_for_connection_config(proxy_url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{proxy_url}/internal/health/connection-config/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("connection-config did not become ready")


# The environment each connection_config_with block in progress started connection-config with, outermost first.
_CONNECTION_CONFIG_ENVIRONMENTS: list[dict[str, str]] = []


@contextmanager
def connection_config_with(proxy_url: str, **variables: str) -> Iterator[None]:
    """connection-config restarted with these environment variables set (e.g. PORTICO_OUTBOUND_ALLOW_HOSTS),
    then restarted as it was before the block, whatever happens; ready at both ends. Blocks nest: an inner one
    adds its variables to the outer one's and gives connection-config back with the outer one's."""
    outer = _CONNECTION_CONFIG_ENVIRONMENTS[-1] if _CONNECTION_CONFIG_ENVIRONMENTS else {}
    _connection_config("stop", {})
    _CONNECTION_CONFIG_ENVIRONMENTS.append({**outer, **variables})
    try:
        _connection_config("start", _CONNECTION_CONFIG_ENVIRONMENTS[-1])
        _wait_for_connection_config(proxy_url)
        yield
    finally:
        _CONNECTION_CONFIG_ENVIRONMENTS.pop()
        _connection_config("stop", {})
        _connection_config("start", outer)
        _wait_for_connection_config(proxy_url)
