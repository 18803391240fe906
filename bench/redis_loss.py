"""Revocation and redemption after Redis loses its data, beside the same figures with Redis intact.

    python -m bench.redis_loss [--rounds 20]

Against the running stack (make up), through the proxy. Each round makes an organization with a shareable
and a magic link, opens a session with the shareable one, then either leaves Redis alone (baseline) or
empties it (FLUSHALL: what a restart without persistence or a failover to an empty replica leaves). It
measures: the first redemption of a fresh magic link (which link-issuer must now vouch for), how long a
link revoked just before the loss takes to be refused after it, and the delay from
a revocation's 204 to the refusal of the link and the end of a session opened after the loss. WARNING:
FLUSHALL ends every portal session of the stack it runs against; never point it at a stack in use.
"""
import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from link_issuer.accounts.admin import create_api_key
from shared.redis_client import create_redis
from shared.settings import Settings

JSON = {"Accept": "application/json"}
POLL_S = 0.005
TIMEOUT_S = 10.0


async def until(check: Callable[[], Awaitable[bool]], since: float) -> float:
    """Seconds from `since` until `check` is true (polled every 5 ms; inf after 10 s)."""
    while not await check():
        if time.perf_counter() - since > TIMEOUT_S:
            return float("inf")
        await asyncio.sleep(POLL_S)
    return time.perf_counter() - since


async def one_round(api: httpx.AsyncClient, proxy: str, lose: Callable[[], Awaitable[object]]) -> dict[str, float]:
    org = (await api.post("/api/v1/organizations", json={"display_name": "bench redis loss"})).json()["organization"]["id"]
    links = f"/api/v1/organizations/{org}/portal_links"
    revoked_before = (await api.post(links, json={"kind": "shareable"})).json()["link"]
    shareable = (await api.post(links, json={"kind": "shareable"})).json()["link"]
    magic = (await api.put(links)).json()["link"]
    await api.delete(f"{links}/{revoked_before['id']}")

    async def opened(link: dict) -> httpx.Response:
        async with httpx.AsyncClient(base_url=proxy, timeout=10) as browser:
            return await browser.get(urlsplit(link["location"]).path, headers=JSON)

    await lose()
    lost_at = time.perf_counter()
    figures: dict[str, float] = {}

    async def revoked_before_refused() -> bool:
        return (await opened(revoked_before)).status_code == 410

    # Revoked a moment ago: with Redis intact its event may still be on the way (the < 1 s bound).
    figures["link revoked just before: refused after"] = await until(revoked_before_refused, lost_at)
    started = time.perf_counter()
    assert (await opened(magic)).status_code == 303
    figures["fresh magic link: redeemed in"] = time.perf_counter() - started
    session = await opened(shareable)
    assert session.status_code == 303
    await api.delete(f"{links}/{shareable['id']}")
    revoked_at = time.perf_counter()

    async def link_refused() -> bool:
        return (await opened(shareable)).status_code == 410

    async def session_ended() -> bool:
        async with httpx.AsyncClient(base_url=proxy, timeout=10, cookies=session.cookies) as browser:
            return (await browser.get("/portal/api/session")).status_code == 401

    refused_after, ended_after = await asyncio.gather(until(link_refused, revoked_at), until(session_ended, revoked_at))
    figures["link revoked now: refused after"] = refused_after
    figures["link revoked now: its session ended after"] = ended_after
    return figures


async def measure(rounds: int) -> dict[str, dict[str, list[float]]]:
    settings = Settings()
    _, key = await create_api_key(settings, "bench redis loss")
    redis = create_redis(settings.redis_url)
    results: dict[str, dict[str, list[float]]] = {"Redis intact (baseline)": {}, "after FLUSHALL": {}}

    async def nothing() -> None:
        return None

    try:
        async with httpx.AsyncClient(base_url=settings.public_url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as api:
            for _ in range(rounds):
                for name, lose in (("Redis intact (baseline)", nothing), ("after FLUSHALL", redis.flushall)):
                    for figure, value in (await one_round(api, settings.public_url, lose)).items():
                        results[name].setdefault(figure, []).append(value)
    finally:
        await redis.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_loss", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    results = asyncio.run(measure(parser.parse_args().rounds))
    baseline = results["Redis intact (baseline)"]
    print(f"{'figure':52} {'after FLUSHALL p50 / max':>26} {'Redis intact p50 / max':>26}")
    for figure, values in results["after FLUSHALL"].items():
        base = baseline[figure]
        print(
            f"{figure:52} {statistics.median(values) * 1000:10.1f} / {max(values) * 1000:7.1f} ms"
            f" {statistics.median(base) * 1000:10.1f} / {max(base) * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main()
