"""Console load: does link issuance suffer while the console signs in a storm of operators and streams an audit export?

    python -m bench.console_load [--seconds 10] [--quick] [--export-org org_…]

Against the running stack (`make up`) through the proxy (settings.public_url); everything goes to 127.0.0.1
and every loop is bounded in count and time. It answered the issue's question "should the console become
its own process?" by measurement (it did: issuance 262 → 36 links/s with the console in link-issuer's
process, 145 links/s with it in a second process on the same 2 cores); the proxy now sends the console's
load to its own process, `python -m link_issuer.console`, so the same run measures issuance beside it:

1. Baseline: magic-link issuance alone (`PUT /api/v1/organizations/{org}/portal_links` with a management
   API key) for `seconds`, ISSUANCE_WORKERS calls in flight over ISSUANCE_ORGS organizations.
2. Loaded: the same issuance for `seconds` while a second process runs, on the console,
   (a) a sign-in storm: STORM_CONCURRENCY `POST /console/api/session` in flight, right and wrong passwords
   in turn over operator accounts made for the run; and (b) an audit export streamed without pause, as a
   signed-in auditor, through the console's export route (the console relays it from the audit service),
   of an organization given SEED_LINKS issued links first so that each export takes noticeable time.

The storm and the export run in a process of their own so that their work does not delay the event loop of
this one, which times the issuance. Lockouts never start: the storm connects from 127.0.0.2 (to 127.0.0.1)
and clears that address's failure count before each wrong password, so at most STORM_CONCURRENCY attempts
are ever counted on it (it locks at 100), and no account gets more than WRONG_PER_ACCOUNT wrong passwords
(it locks at 20): once every account has had its share, the storm sends right passwords only. argon2 checks
2 passwords at once with 32 more waiting and answers 503 busy beyond that: those 503s are the storm's own
outcome, not an error of issuance.

Verdict rule: issuance "suffers" when under load its throughput is below 0.8× the baseline's or its p99 is
above 2× the baseline's: then the console and link-issuer need CPU of their own, not just processes of
their own (on Kubernetes, the console's pods and requests under `console:`).
"""
import argparse
import asyncio
import math
import multiprocessing
import secrets
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import httpx

from bench.stats import percentile, print_table, write_results
from link_issuer.accounts import admin
from link_issuer.accounts.passwords import PasswordHashing
from link_issuer.console.auth import COOKIE, CSRF_HEADER
from link_issuer.console.store import address_failures_key
from shared.db import create_pool
from shared.redis_client import create_redis
from shared.settings import Settings

ISSUANCE_WORKERS = 8
ISSUANCE_ORGS = 4
MAX_ISSUANCE_CALLS = 500_000  # per phase; the time bound ends a phase long before
SEED_LINKS = 3_000
SEED_WORKERS = 16
SEED_BUDGET_S = 300.0
STORM_CONCURRENCY = 48  # above argon2's 2 running + 32 waiting, so the storm also meets 503 busy
STORM_SOURCE = "127.0.0.2"  # a loopback address of the storm's own: its lockout count is not the tests'
STORM_ROLE = "auditor"
WRONG_PER_ACCOUNT = 15  # an account locks at 20 wrong passwords
WRONG_PER_S = 25  # about the most wrong passwords a second argon2 checks on a quiet machine: sizes the accounts
MAX_STORM_ACCOUNTS = 64
MAX_STORM_ATTEMPTS_PER_S = 2_000
MAX_EXPORTS = 10_000
PROCESS_LEAD_S = 5.0  # for the storm's process to start before the loaded phase does
SUFFERS_THROUGHPUT = 0.8
SUFFERS_P99 = 2.0
OUTCOMES = {200: "signed in", 401: "wrong password", 429: "locked out (429)"}


@dataclass
class Issuance:
    latencies: list[float] = field(default_factory=list)  # every call, failed ones too
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def issued(self) -> int:
        return len(self.latencies) - self.errors.total()

    @property
    def rate(self) -> float:
        return self.issued / self.seconds if self.seconds > 0 else 0.0

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


@dataclass(frozen=True)
class Export:
    status: str  # "200", another status, or an exception's name
    size: int
    seconds: float


@dataclass(frozen=True)
class ConsolePlan:
    """What the storm's process needs: where, whom, and when to start and stop (time.monotonic, system-wide)."""

    base_url: str
    redis_url: str
    accounts: tuple[tuple[str, str], ...]
    auditor_cookie: str
    export_org: str
    start: float
    end: float


@dataclass
class ConsoleLoad:
    sign_ins: Counter[str] = field(default_factory=Counter)
    storm_seconds: float = 0.0
    exports: list[Export] = field(default_factory=list)
    export_seconds: float = 0.0
    started_late_s: float = 0.0

    @property
    def exported(self) -> list[Export]:
        return [e for e in self.exports if e.status == "200"]


@dataclass(frozen=True)
class ConsoleLoadRun:
    baseline: Issuance
    loaded: Issuance
    console: ConsoleLoad
    alone: Export
    export_org: str
    seconds: float


def _answer(response: httpx.Response, key: str) -> dict[str, object]:
    """The named object of a successful answer; a failed setup call stops the benchmark with what went wrong."""
    if response.is_error:
        raise SystemExit(f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}")
    found: dict[str, object] = response.json()[key]
    return found


def failure(response: httpx.Response) -> str:
    """`HTTP <status> <error code>`: a 503 may be argon2's `busy` or the proxy's `service_unavailable` (a restart)."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = ""
    return f"HTTP {response.status_code} {code}".strip()


async def issue_links(api: httpx.AsyncClient, orgs: list[str], workers: int, end: float, limit: int) -> Issuance:
    """Magic links, `workers` in flight (worker i on orgs[i % len(orgs)]), until `end` or `limit` calls."""
    result, calls, started = Issuance(), iter(range(limit)), time.monotonic()

    async def worker(org: str) -> None:
        for _ in calls:
            if time.monotonic() >= end:
                return
            sent = time.perf_counter()
            try:
                response = await api.put(f"/api/v1/organizations/{org}/portal_links")
                status, reason = response.status_code, failure(response)
            except httpx.HTTPError as error:
                status, reason = 0, type(error).__name__
            result.latencies.append(time.perf_counter() - sent)
            if status != 200:
                result.errors[reason] += 1

    await asyncio.gather(*(worker(orgs[i % len(orgs)]) for i in range(workers)))
    result.seconds = time.monotonic() - started
    return result


async def create_operators(settings: Settings, run: str, count: int) -> list[tuple[str, str]]:
    """`count` operator accounts for this run, with their one-time passwords: (email, password)."""
    pool = await create_pool(settings.link_issuer_database_url.get_secret_value(), min_size=1, max_size=4)
    hashing = PasswordHashing()
    try:
        made = await asyncio.gather(*(
            admin.add_operator(pool, hashing, f"bench-load-{run}-{n}@example.com", STORM_ROLE, admin.CLI_ACTOR)
            for n in range(count)
        ))
    finally:
        await pool.close()
    return [(operator.email, password) for operator, password in made]


async def auditor_cookie(base_url: str, email: str, one_time_password: str) -> str:
    """Sign an auditor in and replace its one-time password (nothing else is allowed before); its cookie."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as console:
        signed_in = await console.post("/console/api/session", json={"email": email, "password": one_time_password})
        if _answer(signed_in, "operator").get("must_change_password"):
            renewed = await console.post("/console/api/password", headers={CSRF_HEADER: signed_in.json()["csrf_token"]},
                                         json={"current_password": one_time_password,
                                               "new_password": secrets.token_urlsafe(24)})
            _answer(renewed, "operator")
        token = console.cookies.get(COOKIE)
    if not token:
        raise SystemExit("the console's sign-in set no session cookie")
    return token


async def export_once(console: httpx.AsyncClient, org: str) -> Export:
    """One audit export of `org` through the console, its body read to the end."""
    size, started = 0, time.perf_counter()
    try:
        async with console.stream("GET", "/console/api/audit/export", params={"organization_id": org}) as response:
            async for chunk in response.aiter_raw():
                size += len(chunk)
            status = str(response.status_code)
    except httpx.HTTPError as error:
        status = type(error).__name__
    return Export(status, size, time.perf_counter() - started)


class StormAttempts:
    """The storm's next sign-in: each account's right password, then a wrong one, in turn over the accounts;
    an account that has had WRONG_PER_ACCOUNT wrong ones gets only right ones after that."""

    def __init__(self, accounts: tuple[tuple[str, str], ...]) -> None:
        self.accounts = accounts
        self.sent = 0
        self.wrong: Counter[str] = Counter()

    def next(self) -> tuple[str, str, bool]:
        """(email, password, whether it is wrong)."""
        email, password = self.accounts[(self.sent // 2) % len(self.accounts)]
        self.sent += 1
        if self.sent % 2 == 0 and self.wrong[email] < WRONG_PER_ACCOUNT:
            self.wrong[email] += 1
            return email, f"wrong-{self.sent}", True
        return email, password, False


async def storm(plan: ConsolePlan, load: ConsoleLoad) -> None:
    """STORM_CONCURRENCY sign-ins in flight from STORM_SOURCE until plan.end."""
    attempts, limit = StormAttempts(plan.accounts), MAX_STORM_ATTEMPTS_PER_S * (plan.end - plan.start)
    redis = create_redis(plan.redis_url)
    transport = httpx.AsyncHTTPTransport(local_address=STORM_SOURCE, limits=httpx.Limits(max_connections=STORM_CONCURRENCY))
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=plan.base_url, transport=transport, timeout=60) as client:
        async def worker() -> None:
            while time.monotonic() < plan.end and attempts.sent < limit:
                email, password, wrong = attempts.next()
                if wrong:  # at most STORM_CONCURRENCY attempts are counted on the address at any time
                    await redis.delete(address_failures_key(STORM_SOURCE))
                try:
                    response = await client.post("/console/api/session", json={"email": email, "password": password})
                    outcome = OUTCOMES.get(response.status_code) or failure(response)
                except httpx.HTTPError as error:
                    outcome = type(error).__name__
                load.sign_ins[outcome] += 1
                client.cookies.clear()

        try:
            await asyncio.gather(*(worker() for _ in range(STORM_CONCURRENCY)))
        finally:
            await redis.delete(address_failures_key(STORM_SOURCE))
            await redis.aclose()
    load.storm_seconds = time.monotonic() - started


async def export_loop(plan: ConsolePlan, load: ConsoleLoad) -> None:
    """Exports of plan.export_org, one after another, until plan.end (the last one is read to its end)."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=plan.base_url, cookies={COOKIE: plan.auditor_cookie}, timeout=120) as console:
        for _ in range(MAX_EXPORTS):
            if time.monotonic() >= plan.end:
                break
            load.exports.append(await export_once(console, plan.export_org))
    load.export_seconds = time.monotonic() - started


async def console_load(plan: ConsolePlan) -> ConsoleLoad:
    await asyncio.sleep(max(0.0, plan.start - time.monotonic()))
    load = ConsoleLoad(started_late_s=max(0.0, time.monotonic() - plan.start))
    await asyncio.gather(storm(plan, load), export_loop(plan, load))
    return load


def console_process(plan: ConsolePlan) -> ConsoleLoad:
    """The storm's process: the sign-in storm and the export loop, from plan.start to plan.end."""
    return asyncio.run(console_load(plan))


async def loaded_phase(api: httpx.AsyncClient, orgs: list[str], plan: ConsolePlan) -> tuple[Issuance, ConsoleLoad]:
    """Issuance from this process while the console's load runs in another, over the same seconds."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        console = asyncio.get_running_loop().run_in_executor(pool, console_process, plan)
        await asyncio.sleep(max(0.0, plan.start - time.monotonic()))
        loaded = await issue_links(api, orgs, ISSUANCE_WORKERS, plan.end, MAX_ISSUANCE_CALLS)
        return loaded, await console


async def organization(api: httpx.AsyncClient, name: str) -> str:
    return str(_answer(await api.post("/api/v1/organizations", json={"display_name": name}), "organization")["id"])


async def seeded_organization(api: httpx.AsyncClient, links: int) -> str:
    """An organization with `links` magic links issued, so that its audit export takes a while."""
    org = await organization(api, "Bench console export")
    seeded = await issue_links(api, [org], SEED_WORKERS, time.monotonic() + SEED_BUDGET_S, links)
    print(f"seeded {org}: {seeded.issued:,} links in {seeded.seconds:.0f} s (errors: {_errors(seeded)})")
    await asyncio.sleep(2.0)  # for the audit service to have recorded the last of them
    return org


async def run(settings: Settings, seconds: float, seed_links: int, export_org: str | None,
              console_url: str | None = None) -> ConsoleLoadRun:
    _, key = await admin.create_api_key(settings, "bench console load")
    base, run_id = settings.public_url, uuid.uuid4().hex[:8]
    accounts = await create_operators(settings, run_id, 1 + min(math.ceil(seconds * WRONG_PER_S / WRONG_PER_ACCOUNT),
                                                                MAX_STORM_ACCOUNTS))
    limits = httpx.Limits(max_connections=SEED_WORKERS, max_keepalive_connections=SEED_WORKERS)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30, limits=limits) as api:
        orgs = [await organization(api, f"Bench console load {n}") for n in range(ISSUANCE_ORGS)]
        export_org = export_org or await seeded_organization(api, seed_links)
        console_base = console_url or base
        cookie = await auditor_cookie(console_base, *accounts[0])
        async with httpx.AsyncClient(base_url=console_base, cookies={COOKIE: cookie}, timeout=120) as console:
            alone = await export_once(console, export_org)
        print(f"one export alone: {alone.size / 1e6:.1f} MB in {alone.seconds:.2f} s (status {alone.status})")
        await issue_links(api, orgs, ISSUANCE_WORKERS, time.monotonic() + 1.0, MAX_ISSUANCE_CALLS)  # warm-up
        baseline = await issue_links(api, orgs, ISSUANCE_WORKERS, time.monotonic() + seconds, MAX_ISSUANCE_CALLS)
        start = time.monotonic() + PROCESS_LEAD_S
        plan = ConsolePlan(console_base, settings.redis_url, tuple(accounts[1:]), cookie, export_org, start, start + seconds)
        loaded, console_figures = await loaded_phase(api, orgs, plan)
    return ConsoleLoadRun(baseline, loaded, console_figures, alone, export_org, seconds)


def _ratio(loaded: float, baseline: float) -> float:
    return loaded / baseline if baseline > 0 and math.isfinite(baseline) else math.nan


def _errors(issuance: Issuance) -> str:
    reasons = ", ".join(f"{reason} ×{n}" for reason, n in issuance.errors.most_common())
    return f"{issuance.errors.total()}" + (f" ({reasons})" if reasons else "")


def _storm_rate(console: ConsoleLoad, phase_s: float) -> str:
    """Answers per second over the storm's whole run: its last STORM_CONCURRENCY sign-ins end after the phase."""
    seconds = console.storm_seconds
    rate = console.sign_ins.total() / seconds if seconds > 0 else 0.0
    return f"{rate:.1f} ({console.sign_ins.total():,} in {seconds:.1f} s, the last {max(0.0, seconds - phase_s):.1f} s after the phase)"


def suffers(result: ConsoleLoadRun) -> tuple[bool, str]:
    """The verdict rule (see the module's docstring) and the figures it was decided on."""
    throughput = _ratio(result.loaded.rate, result.baseline.rate)
    p99 = _ratio(result.loaded.ms(99), result.baseline.ms(99))
    verdict = not throughput >= SUFFERS_THROUGHPUT or not p99 <= SUFFERS_P99  # NaN (no figure) counts as suffering
    return verdict, f"throughput {throughput:.2f}x (suffers below {SUFFERS_THROUGHPUT}x), p99 {p99:.2f}x (above {SUFFERS_P99}x)"


def rows(result: ConsoleLoadRun) -> list[dict[str, object]]:
    base, loaded, console = result.baseline, result.loaded, result.console
    exported = console.exported

    def row(measure: str, before: object, after: object, ratio: float | None = None) -> dict[str, object]:
        return {"measure": measure, "baseline (issuance alone)": before, "loaded (+ storm + export)": after,
                "loaded/baseline": "" if ratio is None else f"{ratio:.2f}x"}

    outcomes = ", ".join(f"{name} ×{n:,}" for name, n in console.sign_ins.most_common())
    export_mb_s = sum(e.size for e in exported) / 1e6 / console.export_seconds if console.export_seconds else 0.0
    failed = Counter(e.status for e in console.exports if e.status != "200")
    failed_text = ", ".join(f"{status} ×{n}" for status, n in failed.most_common())
    return [
        row("issuance: links issued", base.issued, loaded.issued),
        row("issuance: throughput /s", base.rate, loaded.rate, _ratio(loaded.rate, base.rate)),
        row("issuance: p50 ms", base.ms(50), loaded.ms(50), _ratio(loaded.ms(50), base.ms(50))),
        row("issuance: p99 ms", base.ms(99), loaded.ms(99), _ratio(loaded.ms(99), base.ms(99))),
        row("issuance: max ms", base.ms(100), loaded.ms(100)),
        row("issuance: errors", _errors(base), _errors(loaded)),
        row("storm: sign-ins answered /s", "", _storm_rate(console, result.seconds)),
        row("storm: outcomes", "", outcomes),
        row("export: completed (baseline: one, alone)", 1 if result.alone.status == "200" else 0,
            f"{len(exported)}" + (f" (failed: {failed_text})" if failed else "")),
        row("export: MB/s (baseline: one, alone)", result.alone.size / 1e6 / result.alone.seconds, export_mb_s),
    ]


def report(result: ConsoleLoadRun) -> list[dict[str, object]]:
    table = rows(result)
    print_table(f"Console load: link issuance alone, then beside a sign-in storm and an audit export "
                f"({result.seconds:.0f} s each, {ISSUANCE_WORKERS} issuance calls in flight)", table)
    if result.console.started_late_s > 0.5:
        print(f"note: the storm's process started {result.console.started_late_s:.1f} s into the loaded phase")
    verdict, figures = suffers(result)
    print(f"verdict: issuance {'suffers' if verdict else 'holds'} under the console's load ({figures}): "
          + ("give the console and link-issuer CPU of their own" if verdict else "they may share the CPU"))
    errors = result.baseline.errors.total() + result.loaded.errors.total()
    if errors:
        print(f"warning: {errors} issuance calls failed; if they are 503 service_unavailable or refused "
              "connections, a service restarted during the run and it should be run again")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console_load", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="length of each phase (default 10; at most 600)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 s phases, a small export")
    parser.add_argument("--export-org", help="export this (large) organization instead of seeding one")
    parser.add_argument("--console-url", help="send the storm and the export here instead of through the proxy, e.g. "
                        "straight to one console instance (http://127.0.0.1:8105)")
    args = parser.parse_args()
    seconds = min(args.seconds or (3.0 if args.quick else 10.0), 600.0)
    seed_links = SEED_LINKS // 6 if args.quick else SEED_LINKS
    result = asyncio.run(run(Settings(), seconds, seed_links, args.export_org, args.console_url))
    table = report(result)
    verdict, figures = suffers(result)
    path = write_results("console_load", table, seconds=seconds, export_org=result.export_org,
                         verdict="suffers" if verdict else "holds", verdict_figures=figures)
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
