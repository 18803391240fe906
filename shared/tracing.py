"""OpenTelemetry tracing, the one home of it: a request's trace, carried through the outboxes and Kafka in the
CloudEvents `traceparent` extension (and a Kafka header), continued in every consumer (docs/tracing.md).

Off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
and OTEL_SDK_DISABLED is not `true`. The specification's default exporter would be OTLP to localhost; Portico
chooses off-by-default so an unconfigured install never tries to send anything. While off, callers test
`ENABLED` before calling in here, so a hot path does no tracing work at all (no context read, no span object).

The tracer provider is Portico's own and never the global one: FastAPI (and any other library that
instruments itself through the global provider) stays off, since FastAPI's spans would carry the raw request
path, and a link's path is its token. Spans here carry route templates, never paths or queries.
"""
import os
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import structlog
from aiokafka import ConsumerRecord
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.util.types import AttributeValue
from starlette.types import Scope

from portico_events import CloudEvent
from shared.metrics import UNMATCHED, method_of, route_of

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

ENABLED = False  # set once per process by configure_tracing; read by every hot path before calling in here
_tracer: trace.Tracer = trace.NoOpTracer()
_provider: "TracerProvider | None" = None  # flushed and shut down at exit by the SDK itself
# The trace id the next root span takes: an HTTP request's own id, when it is one (see `request_trace_id`).
_ROOT_TRACE_ID: ContextVar[int] = ContextVar("portico_root_trace_id", default=0)

# W3C Trace Context, version 00 (and later versions read as 00, as the specification asks).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_REQUEST_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether this environment turns tracing on (see the module's docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure_tracing(
    service: str, environ: Mapping[str, str] = os.environ, exporter: "SpanExporter | None" = None
) -> bool:
    """Turn tracing on for this process when the environment asks for it; returns whether it is on. Spans go
    to `exporter` (the tests' in-memory one), by default OTLP over HTTP/protobuf.

    The SDK reads the rest of OTEL_* itself: the exporter its endpoint, headers, timeout and compression; the
    batch processor OTEL_BSP_*; the sampler OTEL_TRACES_SAMPLER(_ARG) (default parentbased_always_on);
    the resource OTEL_RESOURCE_ATTRIBUTES, and OTEL_SERVICE_NAME over Portico's name for the service.
    """
    global ENABLED, _tracer, _provider
    if not wanted(environ):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class RequestTraceIds(RandomIdGenerator):
        """A root span takes the trace id asked for (a request's id), else a random one."""

        def generate_trace_id(self) -> int:
            return _ROOT_TRACE_ID.get() or super().generate_trace_id()

    resource = Resource.create({} if environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service})
    _provider = TracerProvider(resource=resource, id_generator=RequestTraceIds())
    _provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
    _tracer = _provider.get_tracer("portico")
    ENABLED = True
    return True


# W3C trace context on the wire


def parse_traceparent(traceparent: str | None, tracestate: str | None = None) -> SpanContext | None:
    """The remote span context a `traceparent` (and `tracestate`) names, or None when it is not a valid one."""
    found = _TRACEPARENT.fullmatch(traceparent.strip()) if traceparent else None
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    state = TraceState.from_header([tracestate]) if tracestate else None
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                       trace_flags=TraceFlags(int(flags, 16) & TraceFlags.SAMPLED), trace_state=state)


def format_traceparent(span_context: SpanContext) -> str:
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"


def request_trace_id(request_id: str) -> int | None:
    """The trace id a request's id makes: itself when it is 32 lowercase hex digits (nginx's $request_id, which
    the proxy passes as X-Request-ID), so a log line's request_id finds its trace; else none."""
    if _REQUEST_TRACE_ID.fullmatch(request_id) and request_id != "0" * 32:
        return int(request_id, 16)
    return None


def _remote(span_context: SpanContext | None) -> otel_context.Context:
    """A context whose parent is this remote span, or an empty one (a new trace)."""
    if span_context is None:
        return otel_context.Context()
    return trace.set_span_in_context(NonRecordingSpan(span_context), otel_context.Context())


def _current() -> SpanContext | None:
    span_context = trace.get_current_span().get_span_context()
    return span_context if span_context.is_valid else None


def current_trace_headers() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current span, for a call or an event; empty when there is none."""
    span_context = _current()
    if span_context is None:
        return {}
    headers = {"traceparent": format_traceparent(span_context)}
    if span_context.trace_state:
        headers["tracestate"] = span_context.trace_state.to_header()
    return headers


def stamped(event: CloudEvent) -> CloudEvent:
    """The event carrying the current span's context, unless it carries one already (or there is none)."""
    if event.traceparent is not None:
        return event
    headers = current_trace_headers()
    return event.model_copy(update=headers) if headers else event


# HTTP: one SERVER span per request


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    value = next((value for key, value in headers if key == name), None)
    return value.decode("latin-1") if value is not None else None


class ServerSpan:
    """The span of one HTTP request, current (and its trace id in the log context) until `end`."""

    def __init__(self, scope: Scope, request_id: str) -> None:
        headers = scope["headers"]
        parent = parse_traceparent(_header(headers, b"traceparent"), _header(headers, b"tracestate"))
        method = method_of(scope)
        # The route template is known only once the router has run: the name is completed in `end`.
        own_trace_id = request_trace_id(request_id) if parent is None else None
        root = _ROOT_TRACE_ID.set(own_trace_id or 0)
        try:
            self._span = _tracer.start_span(method, _remote(parent), SpanKind.SERVER,
                                            attributes={"http.request.method": method})
        finally:
            _ROOT_TRACE_ID.reset(root)
        self._context = otel_context.attach(trace.set_span_in_context(self._span))
        self._log = structlog.contextvars.bind_contextvars(trace_id=f"{self._span.get_span_context().trace_id:032x}")

    def end(self, scope: Scope, status: int) -> None:
        route = route_of(scope)
        if route != UNMATCHED:
            self._span.update_name(f"{method_of(scope)} {route}")
            self._span.set_attribute("http.route", route)
        self._span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self._span.set_status(Status(StatusCode.ERROR))
        self._span.end()
        otel_context.detach(self._context)
        structlog.contextvars.reset_contextvars(**self._log)


# Kafka: one CONSUMER span per traced record


def _record_attributes(record: ConsumerRecord, group_id: str, headers: Mapping[str, bytes]) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": record.topic,
        "messaging.consumer.group.name": group_id,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
    }
    if event_id := headers.get("ce_id"):
        attributes["messaging.message.id"] = attributes["cloudevents.event_id"] = event_id.decode(errors="replace")
    if event_type := headers.get("ce_type"):
        attributes["cloudevents.event_type"] = event_type.decode(errors="replace")
    return attributes


def _traced_records(records: Sequence[ConsumerRecord]) -> Iterator[tuple[ConsumerRecord, SpanContext, dict[str, bytes]]]:
    for record in records:
        headers = dict(record.headers or ())
        if raw := headers.get("traceparent"):
            state = headers.get("tracestate")
            parent = parse_traceparent(raw.decode("latin-1"), state.decode("latin-1") if state else None)
            if parent is not None:
                yield record, parent, headers


async def traced_batch(
    handler: Callable[[tuple[ConsumerRecord, ...]], Awaitable[None]], records: tuple[ConsumerRecord, ...], group_id: str
) -> None:
    """Run a consumer group's handler on a batch inside a `process <topic>` span per record that carries a trace
    context (a child of the event's producer). One such record: its span is current while the handler runs, so
    what the handler queues continues the trace; several: a batch span linked to each record's context is."""
    traced = list(_traced_records(records))
    if not traced:
        await handler(records)
        return
    spans = [
        _tracer.start_span(f"process {record.topic}", _remote(parent), SpanKind.CONSUMER,
                           attributes=_record_attributes(record, group_id, headers))
        for record, parent, headers in traced
    ]
    current = spans[0]
    if len(spans) > 1:
        topics = " ".join(sorted({record.topic for record in records}))
        current = _tracer.start_span(
            f"process {topics}", otel_context.Context(), SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.operation.type": "process",
                        "messaging.consumer.group.name": group_id, "messaging.batch.message_count": len(records)},
            links=[Link(parent) for _, parent, _ in traced],
        )
    try:
        with trace.use_span(current, record_exception=False, set_status_on_exception=False):
            await handler(records)
    except Exception as error:
        for span in {current, *spans}:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        raise
    finally:
        for span in {current, *spans}:
            span.end()


# A flow continuing a trace begun elsewhere (a link's redemption continues the link's issue)


@contextmanager
def continued(name: str, traceparent: str | None, attributes: Mapping[str, AttributeValue]) -> Iterator[Span]:
    """A current span named `name`, a child of the context `traceparent` names and linked to the current span
    (the request's); without a valid `traceparent` simply a child of the current span."""
    parent = parse_traceparent(traceparent)
    here = _current()
    context = _remote(parent) if parent is not None else None
    links = [Link(here)] if parent is not None and here is not None else None
    with _tracer.start_as_current_span(name, context, SpanKind.INTERNAL, attributes=attributes, links=links,
                                       record_exception=False, set_status_on_exception=False) as span:
        yield span
