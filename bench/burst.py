"""Revocation during another tenant's issuance burst: `python -m bench.burst [--seconds 8]`.

wrk (a native load generator, so the driver is not the bottleneck) issues magic links for one organization
as fast as the stack answers, for `--seconds`. Meanwhile, and right after, another organization revokes
shareable links whose sessions are open in their own browsers (httpx), and each revocation is timed from
the moment the DELETE is sent until its session is refused (401). Then every consumer group's lag is read
every 100 ms (one reader, opened before the burst) until it is 0: how long after the burst each one has
caught up. Beside it, each stage's pace during the burst: link-issuer's outbox rows left unpublished when wrk
stops, and each group's committed records per second against the records arriving on its topics. Loopback only, bounded in time.
"""
import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

from bench.capacity import WRK_CONNECTIONS, WRK_THREADS, WrkResult, finish_wrk, start_wrk, wrk_missing
from bench.lag import LagReader, lag_reader
from bench.stats import percentile, print_table
from bench.summary import Figure
from link_issuer.accounts.admin import create_api_key
from shared.settings import Settings

GROUPS = ("portico-portal-session", "portico-portal-session-urgent", "portico-connection-config",
          "portico-audit", "portico-link-issuer")
REVOKE_DURING = 4  # revocations spread over the burst
REVOKE_AFTER = 2  # and right after it
SESSION_POLL_S = 0.02
REFUSAL_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 120.0


@dataclass
class BurstRun:
    seconds: float
    issued: WrkResult = field(default_factory=lambda: WrkResult(0.0, 0.0, 0))  # wrk's report of the burst
    during_s: list[float] = field(default_factory=list)
    after_s: list[float] = field(default_factory=list)
    drained_s: dict[str, float | None] = field(default_factory=dict)
    # Each group during the burst: records/s it committed, beside records/s arriving on its topics.
    group_rates: dict[str, tuple[float, float]] = field(default_factory=dict)
    outbox_left: int | None = None  # link-issuer's outbox rows not yet published when wrk stopped
    not_measured: str = ""


async def open_session(proxy: str, api: httpx.AsyncClient, organization_id: str) -> tuple[str, httpx.AsyncClient]:
    made = await api.post(f"/api/v1/organizations/{organization_id}/portal_links",
                          json={"kind": "shareable", "expires_in_seconds": 3600})
    made.raise_for_status()
    link = made.json()["link"]
    browser = httpx.AsyncClient(base_url=proxy, timeout=10)
    opened = await browser.get(urlsplit(link["location"]).path, headers={"Accept": "application/json"})
    if opened.status_code != 303:
        raise RuntimeError(f"the shareable link did not open a session: {opened.status_code} {opened.text[:200]}")
    return link["id"], browser


async def revoke_and_time(api: httpx.AsyncClient, organization_id: str, link_id: str, browser: httpx.AsyncClient) -> float:
    """Seconds from sending the revocation until the session is refused."""
    started = time.monotonic()
    answer = await api.delete(f"/api/v1/organizations/{organization_id}/portal_links/{link_id}")
    if answer.status_code != 204:
        raise RuntimeError(f"the revocation failed: {answer.status_code} {answer.text[:200]}")
    while time.monotonic() - started < REFUSAL_TIMEOUT_S:
        if (await browser.get("/portal/api/session")).status_code == 401:
            return time.monotonic() - started
        await asyncio.sleep(SESSION_POLL_S)
    raise RuntimeError(f"the session was still open {REFUSAL_TIMEOUT_S:.0f} s after its revocation")


async def run(settings: Settings, seconds: float) -> BurstRun:
    result = BurstRun(seconds, not_measured=wrk_missing())
    if result.not_measured:
        return result
    proxy = settings.public_url.rstrip("/")
    if urlsplit(proxy).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("bench.burst only targets loopback")
    _, key = await create_api_key(settings, "bench-burst")
    async with httpx.AsyncClient(base_url=proxy, timeout=30, headers={"Authorization": f"Bearer {key}"}) as api:
        async def organization(name: str) -> str:
            created = await api.post("/api/v1/organizations", json={"display_name": name})
            created.raise_for_status()
            return str(created.json()["organization"]["id"])

        bursting, quiet = await organization("Bursting Co"), await organization("Quiet Co")
        sessions = [await open_session(proxy, api, quiet) for _ in range(REVOKE_DURING + REVOKE_AFTER)]
        async with lag_reader(settings) as lags:  # opened before the burst: the drain is read from its end
            with tempfile.TemporaryDirectory() as folder:
                load = await start_wrk(f"{proxy}/api/v1/organizations/{bursting}/portal_links", seconds, method="PUT",
                                       headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
                                       folder=Path(folder))
                began = time.monotonic()
                at_start = await lags.positions(GROUPS)
                for n, (link_id, browser) in enumerate(sessions[:REVOKE_DURING]):
                    await asyncio.sleep(max(0.0, began + seconds * (n + 0.5) / REVOKE_DURING - time.monotonic()))
                    result.during_s.append(await revoke_and_time(api, quiet, link_id, browser))
                result.issued = await finish_wrk(load, seconds)
            ended = time.monotonic()
            result.outbox_left = await outbox_rows(settings)
            result.group_rates = rates(at_start, await lags.positions(GROUPS), time.monotonic() - began)
            after = [revoke_and_time(api, quiet, link_id, browser) for link_id, browser in sessions[REVOKE_DURING:]]
            result.after_s = list(await asyncio.gather(*after))
            for _, browser in sessions:
                await browser.aclose()
            result.drained_s = await drained(lags, ended)
    return result


async def outbox_rows(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.link_issuer_database_url.get_secret_value())
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await conn.close()


def rates(start: dict[str, tuple[int, int]], end: dict[str, tuple[int, int]], seconds: float) -> dict[str, tuple[float, float]]:
    """Per group, (records committed per second, records arriving on its topics per second) between two readings."""
    return {group: ((end[group][0] - start[group][0]) / seconds, (end[group][1] - start[group][1]) / seconds)
            for group in end if group in start}


async def drained(lags: LagReader, ended: float) -> dict[str, float | None]:
    """Seconds after `ended` at which each group's lag was first read as 0 (None: not within the timeout)."""
    found: dict[str, float | None] = {}
    while time.monotonic() - ended < DRAIN_TIMEOUT_S and len(found) < len(GROUPS):
        for group, lag in (await lags.lags(GROUPS)).items():
            if lag == 0 and group not in found:
                found[group] = time.monotonic() - ended
        await asyncio.sleep(0.1)
    return {group: found.get(group) for group in GROUPS}


def report(result: BurstRun) -> list[dict[str, object]]:
    if result.not_measured:
        rows: list[dict[str, object]] = [{"measure": "not measured", "value": result.not_measured}]
    else:
        rows = [
            {"measure": f"issuance by wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {result.seconds:.0f} s, one organization",
             "value": f"{result.issued.per_s:,.0f}/s, p99 {result.issued.p99_ms:.0f} ms, {result.issued.not_2xx} not 2xx"},
            {"measure": "another organization's revocation → session refused, during the burst",
             "value": " / ".join(f"{s:.2f}" for s in result.during_s) + " s"},
            {"measure": "the same, right after the burst",
             "value": " / ".join(f"{s:.2f}" for s in result.after_s) + " s"},
        ]
        rows.append({"measure": "link-issuer's outbox rows not yet published when wrk stopped",
                     "value": "not read" if result.outbox_left is None else f"{result.outbox_left:,}"})
        rows += [{"measure": f"{group} during the burst: committed / arriving on its topics",
                  "value": f"{consumed:,.0f}/s of {arriving:,.0f}/s"} for group, (consumed, arriving) in result.group_rates.items()]
        rows += [{"measure": f"lag of {group} drained, after the burst's end",
                  "value": "never" if seconds is None else f"{seconds:.1f} s"} for group, seconds in result.drained_s.items()]
    print_table("Revocation during another tenant's issuance burst", rows)
    return rows


def summary_figures(result: BurstRun) -> list[Figure]:
    if result.not_measured:
        return [Figure(f"revocation during a burst: not measured ({result.not_measured})", (), "")]
    delays = result.during_s + result.after_s
    drained = [s for s in result.drained_s.values() if s is not None]
    drain = max(drained) if drained and len(drained) == len(result.drained_s) else float("nan")  # nan: one never drained
    return [
        Figure("revocation → session refused, during/after another tenant's burst, p50/max", (
            percentile(delays, 50) * 1000, max(delays) * 1000), "ms", target="< 1,000 ms",
            met=max(delays) < 1.0),
        Figure(f"every consumer group's lag drained after the burst ({result.issued.per_s:,.0f} links/s for "
               f"{result.seconds:.0f} s)", (drain,), "s", target="≤ 2 s", met=bool(drain <= 2.0)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    result = asyncio.run(run(Settings(), min(max(args.seconds, 2.0), 60.0)))
    report(result)
    for figure in summary_figures(result):
        print(f"{figure.name}: {figure.values} {figure.unit} (target {figure.target}: {'met' if figure.met else 'NOT met'})")


if __name__ == "__main__":
    main()
