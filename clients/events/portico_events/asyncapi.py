"""The AsyncAPI 3.0 document of Portico's events, generated with FastStream from the catalogue.

    python -m portico_events.asyncapi                       # print it
    python -m portico_events.asyncapi --write docs/asyncapi.json   # refuses a breaking change
    python -m portico_events.asyncapi --check docs/asyncapi.json   # exit 1 when the file is stale

Every event type is declared as a publisher on its topic with its own envelope model (the CloudEvent
with `type` and `dataversion` fixed and `data` typed), so the document says exactly what each message
on a topic looks like. Needs the `asyncapi` extra (FastStream).
"""
import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any, Literal

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import Field, create_model

from portico_events import CATALOGUE, CONTENT_TYPE, CloudEvent, EventData, __version__
from portico_events.compat import breaking_changes

DESCRIPTION = """\
Portico publishes every change as a CloudEvents 1.0 event in structured JSON mode on Kafka.
Each message is keyed by the organization id (also the event's `subject`), so one organization's
events stay in order within a partition. `dataversion` is the version of the `data` schema for the
event's `type`; a breaking change to a payload ships as a new version, never in place.
Delivery is at-least-once: deduplicate by `id`. No event carries a secret or a raw link token.
When the producer has tracing on, an event also carries the CloudEvents distributed tracing extension:
`traceparent` (and `tracestate`, when there is one) in W3C Trace Context form, naming the operation that
caused it; the Kafka record then has the same values in `traceparent` and `tracestate` headers. Both are
absent otherwise, never null; a consumer may ignore them.
Python consumers can use the `portico-events` package, which holds these models."""


def envelope_model(data_model: type[EventData]) -> type[CloudEvent]:
    """The CloudEvent of one catalogue entry: its `type` and `dataversion` fixed and its `data` typed."""
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"{data_model.__name__}Event",
        __base__=CloudEvent,
        __doc__=f"A `{data_model.event_type}` event, data version {data_model.event_version}.",
        type=(Literal[data_model.event_type], ...),  # type: ignore[valid-type]
        dataversion=(
            Literal[data_model.event_version],  # type: ignore[valid-type]
            Field(description="Extension attribute: the version of `type`'s data schema."),
        ),
        data=(data_model, ...),
    )


def catalogue_broker(bootstrap_servers: str = "127.0.0.1:9092") -> KafkaBroker:
    broker = KafkaBroker(bootstrap_servers, description="Portico's Kafka cluster (PORTICO_KAFKA_BOOTSTRAP_SERVERS).")
    for event_type, data_model in CATALOGUE.items():
        broker.publisher(
            data_model.topic, title=event_type, schema=envelope_model(data_model), description=data_model.__doc__
        )
    return broker


@cache
def asyncapi_document() -> dict[str, Any]:
    """The document as JSON-ready data (the same on every call, so it can be served and committed)."""
    specification = AsyncAPI(
        catalogue_broker(), title="Portico events", version=__version__, description=DESCRIPTION, schema_version="3.0.0"
    ).to_specification()
    document: dict[str, Any] = json.loads(specification.to_json())
    # FastStream collects publishers in a set; sort so the document is byte-for-byte reproducible.
    for section in (document["channels"], document["operations"], *document["components"].values()):
        ordered = sorted(section.items())
        section.clear()
        section.update(ordered)
    for message in document["components"]["messages"].values():
        # FastStream assumes its own correlation header; Portico's messages carry CloudEvents headers instead.
        message.pop("correlationId", None)
        message["contentType"] = CONTENT_TYPE.split(";")[0]
        message["bindings"] = {
            "kafka": {"key": {"type": "string", "description": "The organization id."}, "bindingVersion": "0.5.0"}
        }
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portico_events.asyncapi", description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--write", type=Path, metavar="PATH", help="write the document here")
    target.add_argument("--check", type=Path, metavar="PATH", help="exit 1 unless PATH holds the current document")
    parser.add_argument("--allow-breaking", action="store_true", help="with --write: overwrite even a breaking change")
    args = parser.parse_args(argv)
    text = render(asyncapi_document())
    if args.check:
        if not args.check.exists() or args.check.read_text() != text:
            print(f"{args.check} is stale: run python -m portico_events.asyncapi --write {args.check}", file=sys.stderr)
            return 1
        return 0
    if args.write:
        if args.write.exists() and not args.allow_breaking:
            problems = breaking_changes(json.loads(args.write.read_text()), asyncapi_document())
            if problems:
                print("refusing a breaking change (publish a new dataversion instead):", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                return 1
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
