"""Runs a scenario: the driver's load in its own process, the faults injected and repaired meanwhile,
then a bounded wait for the stack to be ready and the audit log to settle, and the verdict."""
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from bench.chaos import checks
from bench.chaos.faults import ROOT, Fault, script
from bench.lag import lag_reader
from shared.redis_client import create_redis
from shared.settings import Settings

AUDIT_GROUP = "portico-audit"
REDIS_OUTBOX = "portico:ps:outbox"
READY_TIMEOUT_S = 120.0
REOPEN_CONCURRENCY = 8


@dataclass
class Scenario:
    name: str
    faults: list[Fault]
    lead_s: float = 2.0  # load before the first fault
    tail_s: float = 2.0  # load after the stack is ready again
    workers: int = 4
    ready_between_faults: bool = True  # else the next fault comes while the last repair is starting up


@dataclass
class Result:
    scenario: str
    attempted: int
    succeeded: int
    clean_failures: int
    unclean: int
    lost: int
    duplicated: int
    double_redemptions: int
    recovered_s: float
    settle_s: float
    wall_s: float
    details: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.unclean or self.lost or self.duplicated or self.double_redemptions)


def service_ports(settings: Settings) -> dict[str, int]:
    return {"link-issuer": settings.link_issuer_port, "portal-session": settings.portal_session_port,
            "connection-config": settings.connection_config_port, "audit": settings.audit_port,
            "console": settings.console_port}


async def wait_ready(settings: Settings, timeout_s: float = READY_TIMEOUT_S) -> float:
    """Seconds until every service answers /readyz with 200; raises if the timeout passes."""
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=3) as client:
        while True:
            waiting = []
            for service, port in service_ports(settings).items():
                try:
                    ready = (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
                except httpx.HTTPError:
                    ready = False
                if not ready:
                    waiting.append(service)
            if not waiting:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"not ready after {timeout_s:.0f}s: {', '.join(waiting)}")
            await asyncio.sleep(0.25)


class Probe:
    """Read-only views of the stack the verdict needs: the audit log, the outboxes, the audit group's lag."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def _fetch(self, url: str, query: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def audit_position(self) -> tuple[int, object]:
        """The log's last sequence and the database's clock, before a scenario starts."""
        row = (await self._fetch(self.settings.audit_database_url.get_secret_value(),
                                 "SELECT coalesce(max(sequence), 0) AS s, now() AS t FROM audit_log"))[0]
        return row["s"], row["t"]

    async def audit_records(self, organizations: Sequence[str]) -> list[asyncpg.Record]:
        return await self._fetch(
            self.settings.audit_database_url.get_secret_value(),
            """SELECT event_id, event_type, organization_id, target, data::jsonb->>'link_id' AS link_id
               FROM audit_log WHERE organization_id = ANY($1::text[])""", list(organizations))

    async def recorded_again(self, after_sequence: int, before_time: object) -> int:
        """Records appended during the scenario for events that happened before it: a redelivery let in."""
        rows = await self._fetch(self.settings.audit_database_url.get_secret_value(),
                                 "SELECT count(*) AS n FROM audit_log WHERE sequence > $1 AND event_time < $2",
                                 after_sequence, before_time)
        return rows[0]["n"]

    async def queued_events(self) -> int:
        """Events still in an outbox (link-issuer's and connection-config's tables, portal-session's Redis list)."""
        total = 0
        for url in (self.settings.link_issuer_database_url, self.settings.connection_config_database_url):
            total += (await self._fetch(url.get_secret_value(), "SELECT count(*) AS n FROM outbox"))[0]["n"]
        redis = create_redis(self.settings.redis_url)
        try:
            total += await redis.llen(REDIS_OUTBOX)
        finally:
            await redis.aclose()
        return total

    async def audit_lag(self) -> int:
        """Records on the bus the audit service has not committed yet."""
        async with lag_reader(self.settings) as lags:
            return (await lags.lags([AUDIT_GROUP])).get(AUDIT_GROUP, 0)

    async def quiet(self, timeout_s: float) -> bool:
        """Wait (bounded) until the outboxes are empty and the audit group has no lag: an event from before a
        scenario (the test's own API key, say) must be in the log before its position is taken, or it would
        count as recorded again."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if await self.queued_events() == 0 and await self.audit_lag() == 0:
                    return True
            except Exception:  # a dependency still waking up: look again
                pass
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)

    async def settle(self, expectations: list[checks.Expectation], organizations: Sequence[str],
                     timeout_s: float) -> tuple[dict[checks.Key, int], list[str], float]:
        """Poll until every certain change is recorded, the outboxes are empty and the audit group has no
        lag (bounded); then the observed counts per key and the event ids."""
        started = time.monotonic()
        while True:
            rows = await self.audit_records(organizations)
            observed = Counter(checks.record_key(r["event_type"], r["organization_id"], r["target"], r["link_id"])
                               for r in rows)
            quiet = False
            if checks.settled(expectations, observed):
                try:
                    quiet = await self.queued_events() == 0 and await self.audit_lag() == 0
                except Exception:  # a dependency still waking up: look again
                    quiet = False
            if quiet or time.monotonic() - started > timeout_s:
                if quiet:
                    await asyncio.sleep(0.5)  # a duplicate would land now
                    rows = await self.audit_records(organizations)
                    observed = Counter(checks.record_key(r["event_type"], r["organization_id"], r["target"],
                                                         r["link_id"]) for r in rows)
                return dict(observed), [r["event_id"] for r in rows], time.monotonic() - started
            await asyncio.sleep(0.5)


async def start_driver(settings: Settings, api_key: str, ledger_path: Path, workers: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.chaos.driver", "--url", settings.public_url, "--out", str(ledger_path),
        "--workers", str(workers), "--max-seconds", "600",
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PORTICO_CHAOS_API_KEY": api_key},
    )
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), 30)  # "driving"
    return process


async def stop_driver(process: asyncio.subprocess.Process, ledger_path: Path) -> dict[str, object]:
    assert process.stdin is not None
    process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), 60)  # in-flight requests end within their 10 s timeout
    except TimeoutError:
        process.kill()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"the chaos driver exited with {process.returncode}")
    return json.loads(ledger_path.read_text())


async def reopen_magic_links(settings: Settings, links: dict[str, str]) -> dict[str, int]:
    """Open every magic link once more after the faults (and any redelivery): each must answer 410."""
    opened: dict[str, int] = {}
    limit = asyncio.Semaphore(REOPEN_CONCURRENCY)

    async def reopen(client: httpx.AsyncClient, link_id: str, path: str) -> None:
        async with limit:
            for _ in range(5):
                response = await client.get(path, headers={"Accept": "application/json"})
                if response.status_code != 503:
                    break
                await asyncio.sleep(0.5)
            opened[link_id] = int(response.status_code == 303)

    async with httpx.AsyncClient(base_url=settings.public_url, timeout=10) as client:
        await asyncio.gather(*(reopen(client, link_id, path) for link_id, path in links.items()))
    return opened


async def inject_and_repair(fault: Fault) -> float:
    """The fault for its outage, then its repair, which runs even if the wait is cut short; returns
    when the repair began (time.monotonic)."""
    await fault.inject()
    try:
        await asyncio.sleep(fault.outage_s)
    finally:
        repairing = time.monotonic()
        await fault.repair()
    return repairing


async def run_scenario(scenario: Scenario, settings: Settings, api_key: str, settle_timeout_s: float = 90) -> Result:
    probe = Probe(settings)
    began = time.monotonic()
    await wait_ready(settings)
    await probe.quiet(timeout_s=30)
    after_sequence, before_time = await probe.audit_position()
    recovered_s = 0.0
    with tempfile.TemporaryDirectory(prefix="portico-chaos-") as scratch:
        ledger_path = Path(scratch) / "ledger.json"
        driver = await start_driver(settings, api_key, ledger_path, scenario.workers)
        print(f"  driver up after {time.monotonic() - began:.1f}s", flush=True)
        try:
            await asyncio.sleep(scenario.lead_s)
            for fault in scenario.faults:
                repairing = await inject_and_repair(fault)
                if scenario.ready_between_faults:
                    await wait_ready(settings)
                    recovered_s = max(recovered_s, time.monotonic() - repairing)
            await wait_ready(settings)
            recovered_s = max(recovered_s, time.monotonic() - repairing)
            await asyncio.sleep(scenario.tail_s)
        finally:
            stopping = time.monotonic()
            ledger = await stop_driver(driver, ledger_path)
            print(f"  driver stopped in {time.monotonic() - stopping:.1f}s", flush=True)
    expectations = [checks.Expectation(**e) for e in ledger["expectations"]]  # type: ignore[union-attr]
    organizations: list[str] = ledger["organizations"]  # type: ignore[assignment]
    observed, event_ids, settle_s = await probe.settle(expectations, organizations, settle_timeout_s)
    verdict = checks.judge_audit(expectations, observed, event_ids)
    redirects: dict[str, int] = dict(ledger["redirects"])  # type: ignore[call-overload]
    for link_id, opened in (await reopen_magic_links(settings, ledger["magic_links"])).items():  # type: ignore[arg-type]
        redirects[link_id] = redirects.get(link_id, 0) + opened
    doubles = checks.double_redemptions(redirects)
    again = await probe.recorded_again(after_sequence, before_time)
    operations: list[dict[str, object]] = ledger["operations"]  # type: ignore[assignment]
    outcomes = Counter(str(op["outcome"]) for op in operations)
    unclean = [op for op in operations if op["outcome"] == "unclean"]
    return Result(
        scenario=scenario.name,
        attempted=len(operations),
        succeeded=outcomes["ok"],
        clean_failures=outcomes["clean"],
        unclean=outcomes["unclean"],
        lost=len(verdict.lost),
        duplicated=len(verdict.duplicated) + verdict.repeated_event_ids + again,
        double_redemptions=len(doubles),
        recovered_s=recovered_s,
        settle_s=settle_s,
        wall_s=time.monotonic() - began,
        details={
            "lost": [list(k) for k in verdict.lost[:10]],
            "duplicated": [list(k) for k in verdict.duplicated[:10]],
            "recorded_again": again,
            "double_redemptions": doubles[:10],
            "unclean": unclean[:10],
            "clean_failures": dict(Counter(f"{op['kind']}: {op['statuses'][-1]}"  # type: ignore[index]
                                           for op in operations if op["outcome"] == "clean")),
        },
    )


async def restore(settings: Settings) -> None:
    """Whatever a failed scenario left stopped is started again (`make up` is idempotent), then ready."""
    await script("up.sh", timeout_s=300)
    await wait_ready(settings)
