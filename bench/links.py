"""Portal link benchmark: generate→redeem latency, issuance and redemption throughput, link-event propagation.

Run against a running stack (`make up`): `python -m bench.links [--cycles N]` (`make bench` runs it
with the others and prints the summary). Everything it sends goes to 127.0.0.1; every loop is bounded
in count and time.

Latencies are given twice: as this Python client saw them (httpx adds a few milliseconds of its own
on this machine) and as the proxy measured them ($request_time in deploy/local's nginx access log,
matched by X-Request-ID), which is what Portico itself spends.
"""
import argparse
import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from bench import baselines
from bench.proxy_log import log_offset, proxy_times
from bench.stats import percentile, print_table, write_results
from bench.throughput import Step, best_step, ramp, run_step, step_rows
from link_issuer.accounts.admin import create_api_key
from shared.redis_client import create_redis
from shared.settings import Settings

JSON = {"Accept": "application/json"}
ISSUANCE_P99_CEILING_S = 0.100
SEQUENTIAL_SHARE = 0.4
REDEEM_WORKERS = 16


@dataclass(frozen=True)
class Sizes:
    cycles: int = 10_000  # generate→redeem cycles in all (sequential ones first, then concurrent ones)
    sequential: int = 2_000  # the latency figures come from these, one cycle at a time
    concurrent_workers: int = 16  # issue 19's "16 concurrent issue→redeem cycles"
    cycles_budget_s: float = 180.0  # both phases; the sequential one may take at most SEQUENTIAL_SHARE of it
    bare: int = 2_000
    ramp_step_s: float = 2.0
    redeem_s: float = 6.0
    propagation: int = 500


@dataclass
class Cycles:
    generate: list[float] = field(default_factory=list)
    redeem: list[float] = field(default_factory=list)
    attempted: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # why: an HTTP status or an exception name
    request_ids: dict[str, set[str]] = field(default_factory=lambda: {"generate": set(), "redeem": set()})

    @property
    def total(self) -> list[float]:
        return [g + r for g, r in zip(self.generate, self.redeem, strict=True)]


@dataclass
class LinksRun:
    bare_client: list[float]
    bare_proxy: list[float]
    redis_ping: list[float]
    cycles: Cycles
    proxy_generate: list[float]
    proxy_redeem: list[float]
    concurrent: Cycles
    issuance: list[Step]
    bare_ramp: list[Step]
    redemption: Step
    bare_redemption: Step
    propagation: list[float]
    concurrent_workers: int

    @property
    def cycles_attempted(self) -> int:
        return self.cycles.attempted + self.concurrent.attempted

    @property
    def cycle_failures(self) -> Counter[str]:
        return self.cycles.failures + self.concurrent.failures

    @property
    def failures_text(self) -> str:
        reasons = ", ".join(f"{reason} ×{count}" for reason, count in self.cycle_failures.most_common())
        return f"{self.cycle_failures.total()} of {self.cycles_attempted:,} cycles" + (f" ({reasons})" if reasons else "")

    @property
    def best_issuance(self) -> Step | None:
        return best_step(self.issuance, ISSUANCE_P99_CEILING_S)

    @property
    def best_bare(self) -> Step | None:
        return best_step(self.bare_ramp, ISSUANCE_P99_CEILING_S)


def _answer(response: httpx.Response, key: str) -> dict[str, str]:
    """The named object of a successful answer; a failed setup call stops the benchmark with what went wrong."""
    if response.is_error:
        raise SystemExit(f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}")
    return response.json()[key]


async def generate_redeem_cycles(api: httpx.AsyncClient, base_url: str, org: str, cycles: int, deadline: float,
                                 workers: int = 1) -> Cycles:
    """`cycles` of: generate a magic link, then redeem it as a fresh browser would; `workers` at a time."""
    result, run, issued = Cycles(), uuid.uuid4().hex[:8], iter(range(cycles))

    async def browser_loop() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
            for i in issued:
                if time.monotonic() > deadline:
                    return
                result.attempted += 1
                generate_id, redeem_id = f"bench-{run}-g{i}", f"bench-{run}-r{i}"
                stage = "generate"
                try:
                    start = time.perf_counter()
                    response = await api.put(f"/api/v1/organizations/{org}/portal_links",
                                             headers={"X-Request-ID": generate_id})
                    generated = time.perf_counter()
                    if response.status_code != 200:
                        result.failures[f"generate {response.status_code}"] += 1
                        continue
                    browser.cookies.clear()
                    path = urlsplit(response.json()["link"]["location"]).path
                    stage = "redeem"
                    redeemed = await browser.get(path, headers={**JSON, "X-Request-ID": redeem_id})
                except httpx.HTTPError as error:
                    result.failures[f"{stage} {type(error).__name__}"] += 1
                    continue
                result.generate.append(generated - start)
                result.redeem.append(time.perf_counter() - generated)
                result.request_ids["generate"].add(generate_id)
                result.request_ids["redeem"].add(redeem_id)
                if redeemed.status_code != 303:
                    result.failures[f"redeem {redeemed.status_code}"] += 1

    await asyncio.gather(*(browser_loop() for _ in range(workers)))
    return result


async def issuance_and_baseline(api: httpx.AsyncClient, org: str, step_s: float) -> tuple[list[Step], list[Step]]:
    """Ramp concurrency on magic-link issuance, then on the bare endpoint of the same stack."""
    async def issue() -> bool:
        return (await api.put(f"/api/v1/organizations/{org}/portal_links")).status_code == 200

    async def bare() -> bool:
        return (await api.get(baselines.BARE_PATH.format(service="link-issuer"))).status_code == 200

    await run_step(issue, 4, 1.0)  # warm-up
    issuance = await ramp(issue, step_s, ISSUANCE_P99_CEILING_S)
    return issuance, await ramp(bare, step_s, ISSUANCE_P99_CEILING_S)


async def redemption_and_baseline(api: httpx.AsyncClient, base_url: str, org: str, seconds: float) -> tuple[Step, Step]:
    """One shareable link redeemed by REDEEM_WORKERS concurrent browsers; the bare endpoint likewise."""
    response = await api.post(f"/api/v1/organizations/{org}/portal_links", json={"kind": "shareable"})
    path = urlsplit(_answer(response, "link")["location"]).path
    async with httpx.AsyncClient(base_url=base_url, timeout=10,
                                 limits=httpx.Limits(max_connections=REDEEM_WORKERS)) as browser:
        async def redeem() -> bool:
            browser.cookies.clear()
            return (await browser.get(path, headers=JSON)).status_code == 303

        async def bare() -> bool:
            return (await browser.get(baselines.BARE_PATH.format(service="portal-session"))).status_code == 200

        return await run_step(redeem, REDEEM_WORKERS, seconds), await run_step(bare, REDEEM_WORKERS, seconds)


async def propagation(api: httpx.AsyncClient, settings: Settings, org: str, n: int) -> list[float]:
    """From the API's answer to the link's state being in portal-session's Redis (outbox→Kafka→consumer)."""
    redis = create_redis(settings.redis_url)
    samples = []
    try:
        for _ in range(n):
            link = _answer(await api.put(f"/api/v1/organizations/{org}/portal_links"), "link")
            answered = time.perf_counter()
            key = f"portico:ps:link:{link['id']}"
            while not await redis.hexists(key, "return_url") and time.perf_counter() - answered < 2.0:
                await asyncio.sleep(0.0005)
            samples.append(time.perf_counter() - answered)
    finally:
        await redis.aclose()
    return samples


async def run(settings: Settings, sizes: Sizes) -> LinksRun:
    _, key = await create_api_key(settings, "bench")
    base = settings.public_url
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10, limits=limits) as api:
        org = _answer(await api.post("/api/v1/organizations", json={"display_name": "Bench Inc."}), "organization")["id"]
        await generate_redeem_cycles(api, base, org, 200, time.monotonic() + 30)  # warm-up
        bare_client, bare_proxy = await baselines.bare_endpoint(api, "portal-session", sizes.bare)
        redis_ping = await baselines.redis_ping(settings, sizes.bare)
        started = time.monotonic()
        deadline = started + sizes.cycles_budget_s
        offset = log_offset()
        cycles = await generate_redeem_cycles(api, base, org, min(sizes.sequential, sizes.cycles),
                                              started + sizes.cycles_budget_s * SEQUENTIAL_SHARE)
        logged = proxy_times(cycles.request_ids["generate"] | cycles.request_ids["redeem"], offset)
        concurrent = await generate_redeem_cycles(api, base, org, sizes.cycles - cycles.attempted, deadline,
                                                  workers=sizes.concurrent_workers)
        issuance, bare_ramp = await issuance_and_baseline(api, org, sizes.ramp_step_s)
        redemption, bare_redemption = await redemption_and_baseline(api, base, org, sizes.redeem_s)
        propagated = await propagation(api, settings, org, sizes.propagation)
    return LinksRun(
        bare_client, bare_proxy, redis_ping, cycles,
        [logged[i] for i in cycles.request_ids["generate"] if i in logged],
        [logged[i] for i in cycles.request_ids["redeem"] if i in logged],
        concurrent, issuance, bare_ramp, redemption, bare_redemption, propagated, sizes.concurrent_workers,
    )


def _latency_row(measure: str, samples: list[float]) -> dict[str, object]:
    return {"measure": measure, "n": len(samples), "p50 ms": percentile(samples, 50) * 1000,
            "p99 ms": percentile(samples, 99) * 1000, "p99.9 ms": percentile(samples, 99.9) * 1000}


def report(result: LinksRun) -> list[dict[str, object]]:
    """Print this benchmark's own tables; return their rows."""
    latency = [
        _latency_row("bare endpoint via proxy (baseline)", result.bare_client),
        _latency_row("bare endpoint, measured by the proxy", result.bare_proxy),
        _latency_row("redis PING (baseline)", result.redis_ping),
        _latency_row("generate magic link (PUT)", result.cycles.generate),
        _latency_row("redeem right after generate (GET)", result.cycles.redeem),
        _latency_row("generate→redeem cycle", result.cycles.total),
        _latency_row("generate, measured by the proxy", result.proxy_generate),
        _latency_row("redeem, measured by the proxy", result.proxy_redeem),
        _latency_row("generate→redeem cycle, concurrent", result.concurrent.total),
        _latency_row("issued event → Redis state", result.propagation),
    ]
    print_table("Portal links: latency", latency)
    print(f"generate→redeem failures: {result.failures_text}")
    load = (step_rows("issue magic link", result.issuance) + step_rows("bare endpoint", result.bare_ramp)
            + step_rows("redeem shareable link", [result.redemption])
            + step_rows("bare endpoint", [result.bare_redemption]))
    print_table("Portal links: throughput (closed loop, one driver process)", load)
    return latency + load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=Sizes.cycles, help="generate→redeem cycles in all")
    parser.add_argument("--sequential", type=int, default=Sizes.sequential, help="of which one at a time")
    parser.add_argument("--cycle-seconds", type=float, default=Sizes.cycles_budget_s,
                        help="time budget of all the cycles (at most 900)")
    args = parser.parse_args()
    sizes = Sizes(cycles=args.cycles, sequential=args.sequential, cycles_budget_s=min(args.cycle_seconds, 900.0))
    result = asyncio.run(run(Settings(), sizes))
    print(f"\nresults: {write_results('links', report(result))}")


if __name__ == "__main__":
    main()
