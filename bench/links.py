"""Portal link benchmark: generate→redeem latency, redemption throughput, link-event propagation.

Run against a running stack (`make up`): `python -m bench.links [--cycles N] [--seconds S]`.
Everything it sends goes to 127.0.0.1; every loop is bounded in count and time.

Latencies are given twice: as this Python client saw them (httpx adds a few milliseconds of its own
on this machine) and as the proxy measured them ($request_time in deploy/local's nginx access log,
matched by X-Request-ID), which is what Portico itself spends.
"""
import argparse
import asyncio
import os
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.stats import percentile, print_table, write_results
from link_issuer.admin import create_api_key
from shared.redis_client import create_redis
from shared.settings import Settings

JSON = {"Accept": "application/json"}


def ms(seconds: float) -> float:
    return seconds * 1000


async def baseline_http(client: httpx.AsyncClient, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.get("/internal/health/portal-session/healthz")
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
    return samples


async def baseline_redis(settings: Settings, n: int) -> list[float]:
    redis = create_redis(settings.redis_url)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await redis.ping()
        samples.append(time.perf_counter() - start)
    await redis.aclose()
    return samples


ACCESS_LOG = Path(os.environ.get("PORTICO_RUN_DIR", Path(__file__).parents[1] / ".run")) / "logs" / "nginx-access.log"
_LOGGED = re.compile(r" rt=(?P<rt>[0-9.]+) .* rid=(?P<rid>\S+)$")


def proxy_times(request_ids: set[str], log_offset: int) -> dict[str, float]:
    """Seconds the proxy spent on each of these requests, from its access log since `log_offset`."""
    if not ACCESS_LOG.exists():
        return {}
    times = {}
    with ACCESS_LOG.open("rb") as log:
        log.seek(log_offset)
        for line in log:
            match = _LOGGED.search(line.decode(errors="replace").rstrip())
            if match and match["rid"] in request_ids:
                times[match["rid"]] = float(match["rt"])
    return times


async def generate_redeem_cycles(api: httpx.AsyncClient, browser: httpx.AsyncClient, org: str, cycles: int, deadline: float):
    generate, redeem, failures, ids = [], [], 0, {"generate": set(), "redeem": set()}
    run = uuid.uuid4().hex[:8]
    for i in range(cycles):
        if time.monotonic() > deadline:
            break
        start = time.perf_counter()
        generate_id, redeem_id = f"bench-{run}-g{i}", f"bench-{run}-r{i}"
        link = (await api.put(f"/api/v1/organizations/{org}/portal_links", headers={"X-Request-ID": generate_id})).json()["link"]
        issued = time.perf_counter()
        browser.cookies.clear()
        response = await browser.get(urlsplit(link["location"]).path, headers={**JSON, "X-Request-ID": redeem_id})
        done = time.perf_counter()
        generate.append(issued - start)
        redeem.append(done - issued)
        ids["generate"].add(generate_id)
        ids["redeem"].add(redeem_id)
        failures += response.status_code != 303
    return generate, redeem, failures, ids


async def redemption_throughput(api: httpx.AsyncClient, base_url: str, org: str, seconds: float, workers: int) -> tuple[int, float, int]:
    """Redeem one shareable link as fast as `workers` concurrent browsers can, for `seconds`."""
    link = (await api.post(f"/api/v1/organizations/{org}/portal_links", json={"kind": "shareable"})).json()["link"]
    path = urlsplit(link["location"]).path
    done, failures = 0, 0
    stop = time.monotonic() + seconds

    async def browser_loop() -> None:
        nonlocal done, failures
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
            while time.monotonic() < stop:
                browser.cookies.clear()
                response = await browser.get(path, headers=JSON)
                done += 1
                failures += response.status_code != 303

    start = time.monotonic()
    await asyncio.gather(*(browser_loop() for _ in range(workers)))
    return done, time.monotonic() - start, failures


async def propagation(api: httpx.AsyncClient, settings: Settings, org: str, n: int) -> list[float]:
    """From the API's answer to the link's state being in portal-session's Redis (outbox→Kafka→consumer)."""
    redis = create_redis(settings.redis_url)
    samples = []
    for _ in range(n):
        link = (await api.put(f"/api/v1/organizations/{org}/portal_links")).json()["link"]
        answered = time.perf_counter()
        key = f"portico:ps:link:{link['id']}"
        while not await redis.hexists(key, "return_url") and time.perf_counter() - answered < 2.0:
            await asyncio.sleep(0.0005)
        samples.append(time.perf_counter() - answered)
    await redis.aclose()
    return samples


async def main(cycles: int, seconds: float, workers: int) -> None:
    settings = Settings()
    _, key = await create_api_key(settings, "bench")
    base = settings.public_url
    limits = httpx.Limits(max_keepalive_connections=20)
    async with (
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10, limits=limits) as api,
        httpx.AsyncClient(base_url=base, timeout=10) as browser,
    ):
        org = (await api.post("/api/v1/organizations", json={"display_name": "Bench Inc."})).json()["organization"]["id"]
        await generate_redeem_cycles(api, browser, org, 200, time.monotonic() + 60)  # warm-up
        http_base = await baseline_http(browser, 2000)
        redis_base = await baseline_redis(settings, 2000)
        log_offset = ACCESS_LOG.stat().st_size if ACCESS_LOG.exists() else 0
        generate, redeem, failures, ids = await generate_redeem_cycles(api, browser, org, cycles, time.monotonic() + 900)
        logged = proxy_times(ids["generate"] | ids["redeem"], log_offset)
        proxy_generate = [logged[i] for i in ids["generate"] if i in logged]
        proxy_redeem = [logged[i] for i in ids["redeem"] if i in logged]
        done, elapsed, throughput_failures = await redemption_throughput(api, base, org, seconds, workers)
        propagated = await propagation(api, settings, org, 500)

    rows: list[dict[str, object]] = [
        {"measure": "bare endpoint via proxy (baseline)", "n": len(http_base), "p50 ms": ms(percentile(http_base, 50)), "p99 ms": ms(percentile(http_base, 99)), "p99.9 ms": ms(percentile(http_base, 99.9))},
        {"measure": "redis PING (baseline)", "n": len(redis_base), "p50 ms": ms(percentile(redis_base, 50)), "p99 ms": ms(percentile(redis_base, 99)), "p99.9 ms": ms(percentile(redis_base, 99.9))},
        {"measure": "generate magic link (PUT)", "n": len(generate), "p50 ms": ms(percentile(generate, 50)), "p99 ms": ms(percentile(generate, 99)), "p99.9 ms": ms(percentile(generate, 99.9))},
        {"measure": "redeem right after generate (GET)", "n": len(redeem), "p50 ms": ms(percentile(redeem, 50)), "p99 ms": ms(percentile(redeem, 99)), "p99.9 ms": ms(percentile(redeem, 99.9))},
        {"measure": "generate, measured by the proxy", "n": len(proxy_generate), "p50 ms": ms(percentile(proxy_generate, 50)), "p99 ms": ms(percentile(proxy_generate, 99)), "p99.9 ms": ms(percentile(proxy_generate, 99.9))},
        {"measure": "redeem, measured by the proxy", "n": len(proxy_redeem), "p50 ms": ms(percentile(proxy_redeem, 50)), "p99 ms": ms(percentile(proxy_redeem, 99)), "p99.9 ms": ms(percentile(proxy_redeem, 99.9))},
        {"measure": "issued event → Redis state", "n": len(propagated), "p50 ms": ms(percentile(propagated, 50)), "p99 ms": ms(percentile(propagated, 99)), "p99.9 ms": ms(percentile(propagated, 99.9))},
    ]
    print_table("Portal links (latency)", rows)
    summary = [
        {"figure": "generate→redeem failures", "value": f"{failures} of {len(redeem)}", "target": "0 of 10,000"},
        {"figure": "redeem p99 measured by the proxy", "value": f"{ms(percentile(proxy_redeem, 99)):.1f} ms", "target": "≤ 15 ms"},
        {"figure": "redeem p99 / bare endpoint p99 (client-seen)", "value": f"{percentile(redeem, 99) / percentile(http_base, 99):.1f}x", "target": ""},
        {"figure": f"redemptions/s ({workers} browsers, {elapsed:.0f} s)", "value": f"{done / elapsed:,.0f}", "target": f"failures {throughput_failures}"},
        {"figure": "propagation p99", "value": f"{ms(percentile(propagated, 99)):.1f} ms", "target": "≤ 20 ms"},
    ]
    print_table("Portal links (summary)", summary)
    print(f"\nresults: {write_results('links', rows + summary)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=10_000, help="generate→redeem cycles (default 10,000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the throughput run")
    parser.add_argument("--workers", type=int, default=16, help="concurrent browsers in the throughput run")
    args = parser.parse_args()
    asyncio.run(main(args.cycles, args.seconds, args.workers))
