"""The faults, injected into the stack deploy/local started (and only into processes it recorded):
stop Kafka, Redis or Postgres and start them again; SIGKILL a service and start it again as an
orchestrator would; redeliver every topic from offset zero to every consumer group."""
import asyncio
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from portico_events import ALL_TOPICS
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "deploy" / "local"
# The services the kill scenarios kill: the driver's operations go through them. The console, a fifth process,
# is only waited for (runner.service_ports): nothing the driver does reaches it, so killing it would measure nothing.
SERVICES = ("link-issuer", "portal-session", "connection-config", "audit")
# Consumer groups and the service that owns each (stopped while its offsets are rewound).
CONSUMER_GROUPS = {"audit": "portico-audit", "portal-session": "portico-portal-session",
                   "connection-config": "portico-connection-config", "link-issuer": "portico-link-issuer"}


class FaultError(RuntimeError):
    pass


def run_dir() -> Path:
    return Path(os.environ.get("PORTICO_RUN_DIR", ROOT / ".run"))


def is_ours(component: str) -> bool:
    """True when deploy/local started `component` here (its pid file), so we may stop and restart it."""
    return (run_dir() / "pids" / f"{component}.pid").exists()


async def script(name: str, *args: str, timeout_s: float = 120) -> None:
    """Run a deploy/local script with this process's environment (ports, run dir) in a thread."""
    result = await asyncio.to_thread(
        subprocess.run, ["bash", str(LOCAL / name), *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout_s, env=os.environ.copy(),
    )
    if result.returncode != 0:
        raise FaultError(f"{name} {' '.join(args)} failed: {result.stderr.strip()[-500:]}")


@dataclass
class Fault:
    """Something broken for `outage_s` seconds, then repaired without a human."""

    name: str
    outage_s: float

    def components(self) -> tuple[str, ...]:
        """What deploy/local must have started for this fault to be injected."""
        raise NotImplementedError

    async def inject(self) -> None:
        raise NotImplementedError

    async def repair(self) -> None:
        raise NotImplementedError


@dataclass
class StopInfrastructure(Fault):
    """A clean stop (TERM) of Kafka, Redis or Postgres, then its deploy/local start."""

    component: str = "kafka"

    def components(self) -> tuple[str, ...]:
        return (self.component,)

    async def inject(self) -> None:
        await script(f"{self.component}.sh", "stop")

    async def repair(self) -> None:
        await script(f"{self.component}.sh", "start")


@dataclass
class FreezeKafka(Fault):
    """SIGSTOP of the Kafka broker, SIGCONT after the outage: the same unreachable bus as a stop (every
    produce and fetch stalls) without the JVM's restart, which takes 30-70 s on a small machine. The
    short form uses it; `make chaos` stops and restarts Kafka for real."""

    def components(self) -> tuple[str, ...]:
        return ("kafka",)

    def _pid(self) -> int:
        pid = int((run_dir() / "pids" / "kafka.pid").read_text())
        if "kafka.Kafka" not in Path(f"/proc/{pid}/cmdline").read_text():
            raise FaultError(f"pid {pid} is not our Kafka; not touching it")
        return pid

    async def inject(self) -> None:
        os.kill(self._pid(), signal.SIGSTOP)

    async def repair(self) -> None:
        os.kill(self._pid(), signal.SIGCONT)


@dataclass
class KillService(Fault):
    """SIGKILL of one service (no goodbye: open transactions, unacknowledged batches, a relay mid-publish);
    then `services.sh start SERVICE`, which is what a supervisor or an orchestrator does."""

    service: str = "link-issuer"

    def components(self) -> tuple[str, ...]:
        return (self.service,)

    async def inject(self) -> None:
        pid_file = run_dir() / "pids" / f"{self.service}.pid"
        pid = int(pid_file.read_text())
        module = self.service.replace("-", "_")
        if f"-m\0{module}\0" not in Path(f"/proc/{pid}/cmdline").read_text():
            raise FaultError(f"pid {pid} in {pid_file} is not {self.service}; not killing it")
        os.kill(pid, signal.SIGKILL)

    async def repair(self) -> None:
        await script("services.sh", "start", self.service)


@dataclass
class RedeliverFromZero(Fault):
    """Consumer groups (every service's, unless `services` names fewer) rewound to offset zero of every topic:
    each owning service is stopped (TERM, so
    its group is empty), the group's offsets are committed at the start of each partition, and the
    service is started again to read the whole history a second time."""

    settings: Settings | None = None
    services: tuple[str, ...] = tuple(CONSUMER_GROUPS)

    def components(self) -> tuple[str, ...]:
        return self.services

    async def inject(self) -> None:
        assert self.settings is not None
        await script("services.sh", "stop", *self.services)
        for service in self.services:
            await rewind_group(self.settings, CONSUMER_GROUPS[service])

    async def repair(self) -> None:
        await script("services.sh", "start", *self.services)


async def rewind_group(settings: Settings, group_id: str) -> int:
    """Commit each partition's first offset for an empty consumer group; the number of partitions rewound."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for topic in ALL_TOPICS
                      for p in sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))]
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in starts.items()})
        return len(partitions)
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    metadata = await consumer._client.fetch_all_metadata()  # aiokafka has no public call for this
    partitions = metadata.partitions_for_topic(topic)
    if not partitions:
        raise FaultError(f"topic {topic} has no partitions")
    return partitions
