"""Audit ingest benchmark: events/s through Kafka → the running audit service, against raw COPY; lag at 1,000/s.

Run against a running stack (`make up`): `python -m bench.audit_ingest [--events N] [--lag-seconds S]`.
1. Baseline: asyncpg COPY of the same rows into a plain table (no indexes, no chain), in batches of
   the consumer's size, in this process. The table is dropped afterwards.
2. Warm-up: 1,000 events through the whole path, untimed.
3. Ingest: N events published to Kafka as fast as one producer can; the clock runs from the first
   publish until the last row is committed in audit_log (polled), so it is end to end.
4. Lag: events published at a steady 1,000/s; each one's lag is the time from its publish until a
   20 ms poller sees it committed in audit_log.
Every event it sends is really recorded (the log is append-only): source "/portico/bench".
Everything goes to 127.0.0.1; loops are bounded by --events (≤ 50,000) and a 120 s budget.
"""
import argparse
import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.baselines import raw_copy
from bench.stats import percentile, print_table, write_results
from portico_events import Actor, CloudEvent, ConnectionViewed
from shared.broker import aiokafka_options
from shared.ids import new_id
from shared.settings import Settings

SOURCE = "/portico/bench"
MAX_EVENTS = 50_000
BUDGET_S = 120.0
LAG_RATE = 1000  # events/s
POLL_S = 0.02
WARM_UP = 1000  # events through the whole path before anything is timed


def bench_events(n: int, organizations: int = 500) -> list[CloudEvent]:
    orgs = [new_id("org") for _ in range(organizations)]
    return [
        CloudEvent.wrap(
            ConnectionViewed(
                organization_id=orgs[i % organizations],
                actor=Actor(kind="portal_session", id=new_id("ses"), client_address="203.0.113.9",
                            user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"),
                connection_id=new_id("conn"),
            ),
            source=SOURCE,
            time=datetime.now(UTC),
        )
        for i in range(n)
    ]


async def recorded_since(conn: asyncpg.Connection, after_sequence: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT sequence, event_id FROM audit_log WHERE sequence > $1 AND source = $2 ORDER BY sequence",
        after_sequence, SOURCE)


async def ingest(conn: asyncpg.Connection, producer: AIOKafkaProducer, events: list[CloudEvent],
                 deadline: float) -> dict[str, float]:
    start_sequence = await conn.fetchval("SELECT coalesce(max(sequence), 0) FROM audit_log")
    payloads = [(e.to_bytes(), e.subject.encode()) for e in events]
    started = time.perf_counter()
    futures = [await producer.send("portico.connections", value, key=key) for value, key in payloads]
    await asyncio.gather(*futures)
    published = time.perf_counter()
    count = 0
    while time.monotonic() < deadline:
        count = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE sequence > $1 AND source = $2", start_sequence, SOURCE)
        if count >= len(events):
            break
        await asyncio.sleep(POLL_S)
    done = time.perf_counter()
    span = await conn.fetchrow(
        "SELECT extract(epoch FROM max(recorded_at) - min(recorded_at)) AS seconds, count(DISTINCT recorded_at) AS batches "
        "FROM audit_log WHERE sequence > $1 AND source = $2", start_sequence, SOURCE)
    return {
        "recorded": count,
        "publish_per_s": len(events) / (published - started),
        "end_to_end_per_s": count / (done - started),
        "batches": span["batches"],
    }


async def lag_at_steady_rate(conn: asyncpg.Connection, producer: AIOKafkaProducer, seconds: float,
                             deadline: float) -> list[float]:
    """Publish LAG_RATE events/s for `seconds`; return each event's publish → visible-in-Postgres lag."""
    start_sequence = await conn.fetchval("SELECT coalesce(max(sequence), 0) FROM audit_log")
    total = int(seconds * LAG_RATE)
    events = bench_events(total, organizations=100)
    sent_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}

    async def poll() -> None:
        last = start_sequence
        while len(seen_at) < total and time.monotonic() < deadline:
            now = time.perf_counter()
            for row in await recorded_since(conn, last):
                seen_at.setdefault(row["event_id"], now)
                last = row["sequence"]
            await asyncio.sleep(POLL_S)

    poller = asyncio.create_task(poll())
    tick, per_tick = 0.01, LAG_RATE // 100
    begin = time.perf_counter()
    for i in range(0, total, per_tick):
        await asyncio.sleep(max(0.0, begin + (i // per_tick) * tick - time.perf_counter()))
        for event in events[i:i + per_tick]:
            # stamp the publish time into the event itself, as a service would
            stamped = event.model_copy(update={"time": datetime.now(UTC)})
            sent_at[stamped.id] = time.perf_counter()
            await producer.send("portico.connections", stamped.to_bytes(), key=stamped.subject.encode())
    await poller
    return [seen_at[event_id] - sent for event_id, sent in sent_at.items() if event_id in seen_at] + [
        float("inf") for event_id in sent_at if event_id not in seen_at
    ]


@dataclass
class AuditRun:
    copy_per_s: float
    publish_per_s: float
    ingest_per_s: float
    recorded: int
    events: int
    batches: int
    lags: list[float]


async def run(settings: Settings, n: int, lag_seconds: float) -> AuditRun:
    n = max(1, min(n, MAX_EVENTS))
    lag_seconds = max(1.0, min(lag_seconds, 30.0))
    deadline = time.monotonic() + BUDGET_S
    conn = await asyncpg.connect(settings.audit_database_url.get_secret_value())
    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all", enable_idempotence=True, linger_ms=5,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        events = bench_events(n)
        copy_per_s = await raw_copy(conn, events)
        await ingest(conn, producer, bench_events(WARM_UP), deadline)
        result = await ingest(conn, producer, events, deadline)
        lags = await lag_at_steady_rate(conn, producer, lag_seconds, deadline)
    finally:
        await producer.stop()
        await conn.close()
    return AuditRun(copy_per_s, result["publish_per_s"], result["end_to_end_per_s"], int(result["recorded"]), n,
                    int(result["batches"]), lags)


def report(result: AuditRun) -> list[dict[str, object]]:
    """Print this benchmark's own table; return its rows."""
    lag_p99 = percentile(result.lags, 99)
    rows = [
        {"measure": "raw asyncpg COPY, plain table", "value": round(result.copy_per_s), "unit": "events/s",
         "target": "", "n": result.events},
        {"measure": "publish (one producer)", "value": round(result.publish_per_s), "unit": "events/s",
         "target": "", "n": result.events},
        {"measure": "audit ingest, Kafka → audit_log (end to end)", "value": round(result.ingest_per_s),
         "unit": "events/s", "target": "≥ 5,000 " + ("PASS" if result.ingest_per_s >= 5000 else "FAIL"),
         "n": result.recorded},
        {"measure": "audit ingest / raw COPY", "value": round(result.ingest_per_s / result.copy_per_s, 3),
         "unit": "ratio", "target": "", "n": result.events},
        {"measure": f"lag p50 at {LAG_RATE:,}/s", "value": round(percentile(result.lags, 50) * 1000, 1),
         "unit": "ms", "target": "", "n": len(result.lags)},
        {"measure": f"lag p99 at {LAG_RATE:,}/s", "value": round(lag_p99 * 1000, 1), "unit": "ms",
         "target": "< 1,000 " + ("PASS" if lag_p99 < 1.0 else "FAIL"), "n": len(result.lags)},
        {"measure": f"lag max at {LAG_RATE:,}/s", "value": round(max(result.lags) * 1000, 1), "unit": "ms",
         "target": "", "n": len(result.lags)},
    ]
    print_table(f"Audit ingest ({result.batches} consumer batches for {result.events:,} events)", rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=MAX_EVENTS, help=f"ingest phase size (≤ {MAX_EVENTS})")
    parser.add_argument("--lag-seconds", type=float, default=15.0, help="length of the 1,000 events/s phase")
    args = parser.parse_args()
    result = asyncio.run(run(Settings(), args.events, args.lag_seconds))
    print(f"\nresults: {write_results('audit_ingest', report(result))}")


if __name__ == "__main__":
    main()
