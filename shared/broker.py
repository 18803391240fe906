"""The Kafka broker every service publishes through (an idempotent producer), its connection settings, and
CloudEvents in and out of records. The consumer groups are in shared/consumers.py."""
import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiokafka
import aiokafka.errors
import structlog
from aiokafka.conn import create_conn
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from pydantic import ValidationError

from portico_events import CONTENT_TYPE, CloudEvent
from shared.settings import Settings

log = structlog.get_logger("shared.broker")

# How long the broker may hold an empty fetch. The broker answers as soon as data arrives, so this
# does not delay delivery (measured: issued→Redis p99 ~15 ms at 20, 200 and 500 ms); it sets how often
# an idle consumer polls. At 20 ms each idle service burnt ~5% of a core, at 200 ms under 1%.
FETCH_MAX_WAIT_MS = 200


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    return ssl.create_default_context(cafile=settings.kafka_ssl_ca_file or None)


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """How the services authenticate to Kafka: nothing, TLS, or SASL/SCRAM (over TLS or not)."""
    context = _ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        scram = SASLScram256 if settings.kafka_sasl_mechanism == "SCRAM-SHA-256" else SASLScram512
        return scram(
            settings.kafka_sasl_username,
            settings.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=settings.kafka_security_protocol == "SASL_SSL",
        )
    return BaseSecurity(ssl_context=context) if context else None


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """The same connection settings for plain aiokafka clients (the topic admin, tools, tests)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if context := _ssl_context(settings):
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
        }
    return options


async def diagnose_kafka(settings: Settings) -> str | None:
    """Why the first bootstrap server refuses us, in Kafka's words (bad SCRAM password, TLS, refused
    connection), or None when a connection succeeds. aiokafka's own start-up error only says 'bootstrap'."""
    options = aiokafka_options(settings)
    host, _, port = options.pop("bootstrap_servers").split(",")[0].strip().rpartition(":")
    try:
        conn = await asyncio.wait_for(create_conn(host, int(port), **options), 5)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    conn.close()
    return None


def make_broker(settings: Settings, client_id: str) -> KafkaBroker:
    """A broker whose producer is idempotent (acks=all) so a retried send never duplicates or reorders."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=kafka_security(settings),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15_000,
        log_level=logging.DEBUG,  # one line per message is noise at INFO
    )


def _headers(event: CloudEvent) -> dict[str, str]:
    """CloudEvents' Kafka headers beside the structured event: its id and type (so a consumer may skip a record
    unparsed) and, when it carries one, its trace context (a consumer's span reads it without parsing)."""
    headers = {"content-type": CONTENT_TYPE, "ce_id": event.id, "ce_type": event.type}
    if event.traceparent is not None:
        headers["traceparent"] = event.traceparent
        if event.tracestate is not None:
            headers["tracestate"] = event.tracestate
    return headers


async def publish_event(broker: KafkaBroker, event: CloudEvent) -> None:
    """Publish one event, keyed by organization so its events stay in order, and wait for the ack."""
    await broker.publish(event.to_bytes(), topic=event.topic, key=event.subject.encode(), headers=_headers(event))


# Errors after which aiokafka's idempotent producer never sends again: the broker has lost (or
# refuses) the producer id's sequence state, e.g. after a Kafka restart. Only a new producer helps.
FATAL_PRODUCER_ERRORS = (aiokafka.errors.OutOfOrderSequenceNumber, aiokafka.errors.UnknownProducerId)


def producer_connected(broker: KafkaBroker) -> bool:
    """Whether the broker's producer has connected (subscribers may still be joining their groups): a relay
    may publish. False with wrong credentials, so such a replica never takes an outbox's lead."""
    return broker._connection is not None  # FastStream sets it once connect() succeeded


async def publish_events(broker: KafkaBroker, events: Sequence[CloudEvent]) -> None:
    """Publish several events in order, pipelined, returning once Kafka acknowledged every one.

    Raises if any was not acknowledged (the caller keeps them queued and tries again); after a fatal
    producer error the broker gets a new producer first, so that next try can succeed.
    """
    futures = [
        await broker.publish(
            event.to_bytes(),
            topic=event.topic,
            key=event.subject.encode(),
            headers=_headers(event),
            no_confirm=True,
        )
        for event in events
    ]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    failure = next((outcome for outcome in outcomes if isinstance(outcome, BaseException)), None)
    if failure is None:
        return
    if isinstance(failure, FATAL_PRODUCER_ERRORS):
        await renew_producer(broker)
    raise failure


async def renew_producer(broker: KafkaBroker) -> None:
    """Replace the broker's producer with a new one (a new producer id), keeping its subscribers running.

    FastStream has no public call for this; it is the same producer its own `connect` makes.
    """
    producer = broker.config.broker_config.producer  # the Kafka producer; `config.producer` is typed as any broker's
    await producer.disconnect()
    await producer.connect(
        aiokafka.AIOKafkaProducer(**broker._connection_kwargs),
        serializer=broker.config.fd_config._serializer,
        codec=broker.config.broker_codec,
    )
    log.warning("kafka.producer_renewed")


def events_of(records: Iterable[aiokafka.ConsumerRecord], types: Collection[str] | None = None) -> list[CloudEvent]:
    """A batch's events in order; with `types`, only those, told by the record's ce_type header so the rest
    are never parsed. A malformed message can never succeed: it is logged and skipped, not retried."""
    events = []
    for record in records:
        if types is not None:
            header = dict(record.headers or ()).get("ce_type")
            if header is not None and header.decode(errors="replace") not in types:
                continue
        try:
            event = CloudEvent.from_bytes(record.value or b"")
        except ValidationError as error:
            log.error("event.malformed_skipped", topic=record.topic, partition=record.partition,
                      offset=record.offset, errors=error.error_count())
            continue
        if types is None or event.type in types:
            events.append(event)
    return events


@asynccontextmanager
async def paused_on_failure(logger: Any, event: str, delay_s: float, **context: object) -> AsyncIterator[None]:
    """Around a batch handler's writes: when they fail (a dependency down), log `event` and wait `delay_s` before
    the exception rewinds the batch, so it is delivered again after a pause, not in a hot loop."""
    try:
        yield
    except Exception as error:
        logger.error(event, error=repr(error), retry_in_s=delay_s, **context)
        await asyncio.sleep(delay_s)
        raise
