"""What the audit ingest costs per event in Python, piece by piece: `python -m bench.audit_parts [--events 20000]`.

The audit handler's own work on benchmark events (the same as `bench.audit_ingest` publishes), in this process,
without Kafka or Postgres: parsing the CloudEvent, building the entry (its canonical data JSON), chaining and
hashing, and the rows the COPY sends. CPU by `time.process_time`. Not in `make bench`: it explains the ingest
figure rather than being one.
"""
import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from audit.domain import chain_entries, entry_from_event
from audit.handlers import decode_entries
from audit.store import _row_of
from bench.audit_ingest import bench_events
from bench.stats import print_table
from portico_events import CloudEvent


def run(n: int) -> list[dict[str, object]]:
    payloads = [event.to_bytes() for event in bench_events(n)]
    records = [ConsumerRecord("portico.links", 0, offset, 0, 0, None, value, None, 0, len(value), [])
               for offset, value in enumerate(payloads)]
    rows: list[dict[str, object]] = []

    def timed(name: str, work: Callable[[], Any]) -> Any:
        started = time.process_time()
        result = work()
        rows.append({"piece": name, "events": n, "cpu µs/event": (time.process_time() - started) / n * 1e6})
        return result

    parsed = timed("CloudEvent.from_bytes (pydantic)", lambda: [CloudEvent.from_bytes(p) for p in payloads])
    entries = timed("entry_from_event (canonical data JSON)", lambda: [entry_from_event(e) for e in parsed])
    timed("decode_entries: the two above, as the handler runs them", lambda: decode_entries(records))
    chained = timed("chain_entries: canonical record and SHA-256", lambda: list(
        chain_entries(entries, {}, 0, datetime.now(UTC))))
    timed("the rows the COPY sends", lambda: [_row_of(record) for record in chained])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    print_table("Audit ingest, the handler's Python per event (no Kafka, no Postgres)",
                run(min(max(args.events, 1_000), 200_000)))


if __name__ == "__main__":
    main()
