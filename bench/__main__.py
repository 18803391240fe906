"""`make bench` (`python -m bench`): every benchmark against the running stack, then one summary table.

Baselines first (raw Kafka; the bare endpoint, Redis and COPY inside the benchmarks that use them), then
portal links, then audit ingest, then capacity under wrk (issuance and redemption beside their bare
endpoints), then revocations during another tenant's issuance burst (wrk), then SSO sign-in against Keycloak
(beside Keycloak alone); each warms up before it measures. Load comes from this process and the wrk it
starts, on loopback only, bounded in count and time (about six minutes in all on the 2-core development
machine). Without Keycloak (no Java 21+) the SSO rows say why and are marked not measured; without wrk the
wrk rows do; the rest of the run stands.
"""
import argparse
import asyncio
import os
import time

from bench import audit_ingest, baselines, burst, capacity, links, sso
from bench.stats import percentile, print_table, write_results
from bench.summary import Figure, figure_record, figure_row, latency_ms, pair_sums
from bench.throughput import Step
from shared.settings import Settings

KAFKA_ROUND_TRIPS = 500
KAFKA_PRODUCE = 20_000
AUDIT_EVENTS = 30_000
AUDIT_LAG_S = 10.0
P50_P99 = (50, 99)
SSO_ROUNDS, SSO_QUICK_ROUNDS = 20, 5
BURST_S, BURST_QUICK_S = 8.0, 2.0
CAPACITY_S, CAPACITY_QUICK_S = 6.0, 2.0


def figures(link: links.LinksRun, audit: audit_ingest.AuditRun, kafka_rt: list[float], produce_per_s: float) -> list[Figure]:
    """The summary's rows; the targets are issue 19's (one at a time through the proxy, 16 concurrent cycles,
    propagation against raw Kafka, audit ingest)."""
    cycles, failures = link.cycles_attempted, link.cycle_failures.total()
    issuance, bare_ramp = link.best_issuance, link.best_bare
    redeem, generate = latency_ms(link.proxy_redeem), latency_ms(link.proxy_generate)
    concurrent = latency_ms(link.concurrent.total)
    propagation = latency_ms(link.propagation, P50_P99)
    lag = latency_ms(audit.lags, P50_P99)
    kafka = latency_ms(kafka_rt, P50_P99)
    workers = link.concurrent_workers
    return [
        Figure("generate→redeem cycle, client-seen, p50/p99/p99.9", latency_ms(link.cycles.total), "ms",
               "two bare requests", latency_ms(pair_sums(link.bare_client))),
        Figure("redeem, one at a time, proxy-measured", redeem, "ms",
               "bare endpoint, proxy-measured", latency_ms(link.bare_proxy), "p50 ≤ 4, p99 ≤ 12 ms",
               redeem[0] <= 4 and redeem[1] <= 12),
        Figure("redeem, client-seen", latency_ms(link.cycles.redeem), "ms",
               "bare endpoint, client-seen", latency_ms(link.bare_client)),
        Figure("generate, one at a time, proxy-measured", generate, "ms",
               "bare endpoint, proxy-measured", latency_ms(link.bare_proxy), "p50 ≤ 5, p99 ≤ 12 ms",
               generate[0] <= 5 and generate[1] <= 12),
        Figure(f"generate→redeem, {workers} concurrent browsers, client-seen ({link.concurrent.attempted:,} cycles)",
               concurrent, "ms", "two bare requests", latency_ms(pair_sums(link.bare_client)),
               "p99 ≤ 100 ms, 0 failures", concurrent[1] <= 100 and link.concurrent.failures.total() == 0),
        Figure(f"generate→redeem failures: {link.failures_text}", (float(failures),), "", target="0 in 10,000",
               met=failures == 0 and cycles >= 10_000),
        Figure(f"link issuance at p99 < 100 ms ({_at(issuance)})", (issuance.rate if issuance else 0.0,), "/s",
               f"bare endpoint ({_at(bare_ramp)})", (bare_ramp.rate if bare_ramp else 0.0,)),
        Figure(f"redemptions ({links.REDEEM_WORKERS} browsers)", (link.redemption.rate,), "/s",
               f"bare endpoint, {links.REDEEM_WORKERS} concurrent", (link.bare_redemption.rate,),
               f"0 failures ({link.redemption.failures})", link.redemption.failures == 0),
        Figure("issued event → Redis state, p50/p99", propagation, "ms",
               "raw Kafka produce→consume", kafka, "p99 ≤ 1.5x raw Kafka p99", propagation[1] <= 1.5 * kafka[1]),
        Figure("audit ingest, Kafka → audit_log", (audit.ingest_per_s,), "events/s",
               "raw asyncpg COPY", (audit.copy_per_s,), "≥ 20,000/s", audit.ingest_per_s >= 20_000),
        Figure("audit ingest vs raw produce", (audit.ingest_per_s,), "events/s",
               "raw Kafka produce", (produce_per_s,)),
        Figure(f"audit lag at {audit_ingest.LAG_RATE:,}/s, p50/p99", lag, "ms",
               "raw Kafka produce→consume", kafka, "p99 < 1,000 ms", lag[1] < 1000),
        Figure("Redis PING (baseline alone)", latency_ms(link.redis_ping), "ms"),
    ]


async def sso_sign_in(settings: Settings, rounds: int) -> sso.SsoRun:
    """The SSO bench, or why it was not measured: a failure there leaves the other figures standing."""
    try:
        return await sso.run(settings, rounds)
    except Exception as error:  # a sign-in that broke off, a service restarted meanwhile…
        return sso.SsoRun([], f"{type(error).__name__}: {error}")


async def wrk_capacity(settings: Settings, seconds: float) -> capacity.CapacityRun:
    """The wrk capacity bench, or why it was not measured."""
    try:
        return await capacity.run(settings, seconds)
    except Exception as error:
        return capacity.CapacityRun(seconds, not_measured=f"{type(error).__name__}: {error}")


async def burst_revocations(settings: Settings, seconds: float) -> burst.BurstRun:
    """The burst bench, or why it was not measured."""
    try:
        return await burst.run(settings, seconds)
    except Exception as error:
        return burst.BurstRun(seconds, not_measured=f"{type(error).__name__}: {error}")


async def run_all(
    settings: Settings, sizes: links.Sizes, audit_events: int, audit_lag_s: float, sso_rounds: int, burst_s: float,
    capacity_s: float,
) -> None:
    load_before = os.getloadavg()
    started = time.monotonic()
    payload = audit_ingest.bench_events(1)[0].to_bytes()  # the size of a real event
    kafka_rt, produce_per_s = await baselines.kafka(settings, KAFKA_ROUND_TRIPS, KAFKA_PRODUCE, payload)
    print_table("Raw Kafka (baseline)", [
        {"measure": "produce→consume round trip", "n": len(kafka_rt),
         "p50 ms": percentile(kafka_rt, 50) * 1000, "p99 ms": percentile(kafka_rt, 99) * 1000},
        {"measure": f"produce, {KAFKA_PRODUCE:,} messages of {len(payload)} bytes", "n": KAFKA_PRODUCE,
         "p50 ms": f"{produce_per_s:,.0f}/s", "p99 ms": ""},
    ])
    link = await links.run(settings, sizes)
    link_rows = links.report(link)
    audit = await audit_ingest.run(settings, audit_events, audit_lag_s)
    audit_rows = audit_ingest.report(audit)
    capacities = await wrk_capacity(settings, capacity_s)
    capacity_rows = capacity.report(capacities)
    bursting = await burst_revocations(settings, burst_s)
    burst_rows = burst.report(bursting)
    sign_ins = await sso_sign_in(settings, sso_rounds)
    sso_rows = sso.report(sign_ins)

    summary = (figures(link, audit, kafka_rt, produce_per_s) + capacity.summary_figures(capacities)
               + burst.summary_figures(bursting) + sso.summary_figures(sign_ins))
    load_after = os.getloadavg()
    context = (f"{os.cpu_count()} cores; load average (1/5/15 min) {_load(load_before)} before, "
               f"{_load(load_after)} after; {time.monotonic() - started:.0f} s")
    print_table(f"Summary ({context})", [figure_row(f) for f in summary])
    path = write_results("bench", [figure_record(f) for f in summary], context=context,
                         load_average_before=load_before, load_average_after=load_after,
                         links=link_rows, audit=audit_rows, capacity=capacity_rows, burst=burst_rows,
                         sso=sso_rows)
    print(f"\nresults: {path}")


def _at(step: Step | None) -> str:
    return f"concurrency {step.concurrency}" if step else "no step under 100 ms"


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small counts, a few seconds each")
    args = parser.parse_args()
    if args.quick:
        sizes = links.Sizes(cycles=300, sequential=200, bare=200, ramp_step_s=1.0, redeem_s=2.0, propagation=50)
        asyncio.run(run_all(Settings(), sizes, 2_000, 2.0, SSO_QUICK_ROUNDS, BURST_QUICK_S, CAPACITY_QUICK_S))
    else:
        asyncio.run(run_all(Settings(), links.Sizes(), AUDIT_EVENTS, AUDIT_LAG_S, SSO_ROUNDS, BURST_S, CAPACITY_S))


if __name__ == "__main__":
    main()
