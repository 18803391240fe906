"""Capacity measured by a native load generator: `python -m bench.capacity [--seconds 6]`.

The Python driver of bench/links.py shares the two cores with the stack and tops out near 500 requests/s, so
its throughput figures say more about the driver than about Portico. Here wrk (`-t2 -c16`, a Lua script for
the method and headers) drives, each figure beside the same-run bare endpoint of the same service through
the same proxy: magic-link issuance against link-issuer's /healthz, and one shareable link redeemed over and
over (each request a new session) against portal-session's /healthz. Loopback only, bounded in time.
"""
import argparse
import asyncio
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.baselines import BARE_PATH
from bench.stats import print_table
from bench.summary import Figure
from link_issuer.accounts.admin import create_api_key
from shared.settings import Settings

WRK_THREADS, WRK_CONNECTIONS = 2, 16
ISSUANCE_TARGET_PER_S = 1_700  # the Go peer's rate on this box (issue 19)
ISSUANCE_TARGET_RATIO = 0.4


@dataclass(frozen=True)
class WrkResult:
    per_s: float
    p99_ms: float
    not_2xx: int


@dataclass
class CapacityRun:
    seconds: float
    issuance: WrkResult | None = None
    issuance_bare: WrkResult | None = None
    redemption: WrkResult | None = None
    redemption_bare: WrkResult | None = None
    not_measured: str = ""


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, the p99 latency in ms and the answers that were not 2xx or 3xx, from `wrk --latency`."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", output)
    if rate is None or p99 is None:
        raise ValueError(f"not a wrk --latency report: {output[:200]!r}")
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return WrkResult(float(rate.group(1)), float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0)


def wrk_missing() -> str:
    """Why wrk cannot run here, or "" when it can."""
    return "" if shutil.which("wrk") else "wrk is not installed (make bench installs it, or apt-get install wrk)"


def wrk_script(method: str, headers: dict[str, str]) -> str:
    lines = [f'wrk.method = "{method}"'] + [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    return "\n".join(lines) + "\n"


async def start_wrk(url: str, seconds: float, *, method: str = "GET", headers: dict[str, str] | None = None,
                    folder: Path) -> asyncio.subprocess.Process:
    """wrk against `url` (loopback only), started; `finish_wrk` waits for its report."""
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("wrk is only pointed at loopback")
    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError(wrk_missing())
    script = folder / f"wrk-{method.lower()}-{abs(hash(url))}.lua"
    script.write_text(wrk_script(method, headers or {}))
    command = [wrk, f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{math.ceil(seconds)}s", "--latency",
               "-s", str(script), url]
    return await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def finish_wrk(process: asyncio.subprocess.Process, seconds: float) -> WrkResult:
    out, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 30)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.decode()[:300]}")
    return parse_wrk(out.decode())


async def run_wrk(url: str, seconds: float, folder: Path, *, method: str = "GET",
                  headers: dict[str, str] | None = None) -> WrkResult:
    return await finish_wrk(await start_wrk(url, seconds, method=method, headers=headers, folder=folder), seconds)


async def run(settings: Settings, seconds: float) -> CapacityRun:
    result = CapacityRun(seconds, not_measured=wrk_missing())
    if result.not_measured:
        return result
    proxy = settings.public_url.rstrip("/")
    _, key = await create_api_key(settings, "bench-capacity")
    authorized = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=proxy, timeout=30, headers=authorized) as api:
        created = await api.post("/api/v1/organizations", json={"display_name": "Capacity Co"})
        created.raise_for_status()
        organization = created.json()["organization"]["id"]
        shared = await api.post(f"/api/v1/organizations/{organization}/portal_links",
                                json={"kind": "shareable", "expires_in_seconds": 3600})
        shared.raise_for_status()
        link_path = urlsplit(shared.json()["link"]["location"]).path
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        await run_wrk(f"{proxy}{BARE_PATH.format(service='link-issuer')}", 2, folder)  # warm-up
        result.issuance_bare = await run_wrk(f"{proxy}{BARE_PATH.format(service='link-issuer')}", seconds, folder)
        result.issuance = await run_wrk(f"{proxy}/api/v1/organizations/{organization}/portal_links", seconds, folder,
                                        method="PUT", headers=authorized)
        result.redemption_bare = await run_wrk(f"{proxy}{BARE_PATH.format(service='portal-session')}", seconds, folder)
        result.redemption = await run_wrk(f"{proxy}{link_path}", seconds, folder, headers={"Accept": "application/json"})
    return result


def _row(name: str, measured: WrkResult | None) -> dict[str, object]:
    if measured is None:
        return {"measure": name, "requests/s": "", "p99 ms": "", "not 2xx/3xx": ""}
    return {"measure": name, "requests/s": f"{measured.per_s:,.0f}", "p99 ms": f"{measured.p99_ms:.1f}",
            "not 2xx/3xx": measured.not_2xx}


def report(result: CapacityRun) -> list[dict[str, object]]:
    if result.not_measured:
        rows: list[dict[str, object]] = [{"measure": "not measured", "requests/s": result.not_measured,
                                          "p99 ms": "", "not 2xx/3xx": ""}]
    else:
        rows = [
            _row("link-issuer /healthz through the proxy (bare endpoint)", result.issuance_bare),
            _row("magic-link issuance, PUT …/portal_links", result.issuance),
            _row("portal-session /healthz through the proxy (bare endpoint)", result.redemption_bare),
            _row("shareable-link redemption, GET /portal/l/… (a session each)", result.redemption),
        ]
    print_table(f"Capacity under wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {result.seconds:.0f} s each", rows)
    return rows


def summary_figures(result: CapacityRun) -> list[Figure]:
    if result.not_measured or not (result.issuance and result.issuance_bare and result.redemption
                                   and result.redemption_bare):
        return [Figure(f"capacity under wrk: not measured ({result.not_measured})", (), "")]
    issuance, bare = result.issuance, result.issuance_bare
    ok = issuance.not_2xx == 0 and issuance.p99_ms < 100
    return [
        Figure(f"issuance under wrk (p99 {issuance.p99_ms:.0f} ms, {issuance.not_2xx} failed)", (issuance.per_s,),
               "/s", "link-issuer bare endpoint under wrk", (bare.per_s,),
               f"≥ {ISSUANCE_TARGET_PER_S:,}/s at p99 < 100 ms, ≥ {ISSUANCE_TARGET_RATIO}x bare",
               ok and issuance.per_s >= ISSUANCE_TARGET_PER_S and issuance.per_s >= ISSUANCE_TARGET_RATIO * bare.per_s),
        Figure(f"shareable redemption under wrk (p99 {result.redemption.p99_ms:.0f} ms, "
               f"{result.redemption.not_2xx} failed)", (result.redemption.per_s,), "/s",
               "portal-session bare endpoint under wrk", (result.redemption_bare.per_s,)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    result = asyncio.run(run(Settings(), min(max(args.seconds, 2.0), 60.0)))
    report(result)


if __name__ == "__main__":
    main()
