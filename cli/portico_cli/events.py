"""`portico events tail`: Portico's events as they are published, read live from Kafka.

It reads outside any consumer group (no offsets are committed, no service's group is touched), from
the current end of each topic, until Ctrl-C, `--max N` events or `--seconds S`. Kafka is
PORTICO_KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092).
"""
import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from portico_cli.output import EXIT_FAILURE, EXIT_USAGE, CLIError
from portico_events import ALL_TOPICS, CATALOGUE, CloudEvent

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
CONNECT_TIMEOUT_S = 15.0
POLL_MS = 500


def _bootstrap_servers() -> str:
    return os.environ.get("PORTICO_KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS)


def _line(event: CloudEvent) -> str:
    """`time  type  organization  actor=kind:id  field=value …` (the data fields other than those)."""
    actor = event.data.get("actor") or {}
    fields = [f"actor={':'.join(filter(None, (actor.get('kind'), actor.get('id'))))}"] if actor else []
    fields += [
        f"{name}={json.dumps(value) if isinstance(value, list | dict) else value}"
        for name, value in event.data.items()
        if name not in ("organization_id", "actor") and value is not None
    ]
    return "  ".join([event.time.isoformat().replace("+00:00", "Z"), event.type, event.subject, " ".join(fields)])


def _topics(types: list[str] | None) -> tuple[str, ...]:
    if not types:
        return ALL_TOPICS
    unknown = sorted(set(types) - set(CATALOGUE))
    if unknown:
        raise CLIError(f"unknown event type {', '.join(unknown)}; known: {', '.join(sorted(CATALOGUE))}", EXIT_USAGE)
    return tuple(topic for topic in ALL_TOPICS if any(CATALOGUE[t].topic == topic for t in types))


async def _start_at_end(consumer: AIOKafkaConsumer, topics: tuple[str, ...]) -> None:
    # Without a group id the consumer is given every partition of its topics as soon as it starts.
    partitions = sorted(consumer.assignment())
    if not partitions:
        raise CLIError(f"Kafka at {_bootstrap_servers()} has none of the topics {', '.join(topics)}", EXIT_FAILURE)
    await consumer.seek_to_end(*partitions)
    for partition in partitions:  # fix the starting offsets now, so nothing published after "listening" is missed
        await consumer.position(partition)


async def _tail(args: argparse.Namespace) -> int:
    topics = _topics(args.type)
    types = set(args.type or ())
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=_bootstrap_servers(), enable_auto_commit=False,
                                client_id="portico-cli-events-tail")
    try:
        await asyncio.wait_for(consumer.start(), CONNECT_TIMEOUT_S)
    except (KafkaError, TimeoutError, OSError) as error:
        await consumer.stop()
        raise CLIError(f"cannot reach Kafka at {_bootstrap_servers()}: {error!r}") from None
    shown = 0
    try:
        await _start_at_end(consumer, topics)
        print(f"portico: listening on {', '.join(topics)} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds is not None else None
        while args.max is None or shown < args.max:
            wait_ms = POLL_MS if deadline is None else int(min(POLL_MS, (deadline - time.monotonic()) * 1000))
            if wait_ms <= 0:
                break
            batches = await consumer.getmany(timeout_ms=wait_ms)
            records = sorted((r for rs in batches.values() for r in rs), key=lambda r: (r.timestamp, r.offset))
            for record in records:
                try:
                    event = CloudEvent.from_bytes(record.value or b"")
                except ValidationError:
                    print(f"portico: skipped a message that is not a CloudEvent ({record.topic}@{record.offset})",
                          file=sys.stderr)
                    continue
                if (types and event.type not in types) or (args.organization and event.subject != args.organization):
                    continue
                print(event.model_dump_json() if args.json else _line(event), flush=True)
                shown += 1
                if args.max is not None and shown >= args.max:
                    break
    finally:
        await consumer.stop()
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_tail(args))
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how a tail normally ends


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {value!r}")
        return number

    return parse


def register(groups: argparse._SubParsersAction) -> None:  # argparse's own type
    parser = groups.add_parser("events", help="follow Portico's events live on Kafka")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    tail = commands.add_parser(
        "tail", help="print events as they are published (--json: one CloudEvent per line)",
        description="Print events as they are published, until Ctrl-C, --max or --seconds.",
    )
    tail.add_argument("--type", action="append", metavar="TYPE", help="only this event type (repeatable)")
    tail.add_argument("--organization", metavar="ORGANIZATION_ID", help="only this organization's events")
    tail.add_argument("--max", type=_positive(int), metavar="N", help="stop after N events")
    tail.add_argument("--seconds", type=_positive(float), metavar="S", help="stop after S seconds")
    tail.set_defaults(run=_run)
