"""Tracing (shared/tracing.py): off unless an OTLP endpoint is configured; W3C trace context read strictly; a
request's span takes the proxy's request id as its trace id and never records a path; events carry the trace
context only when there is one (byte-identical otherwise); a consumer continues each record's trace."""
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from portico_events import TOPIC_LINKS, Actor, CloudEvent, PortalLinkIssued
from shared import tracing
from shared.logs import configure_logging
from shared.service import create_http_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
TOKEN = "v1.eyJsIjoibG5rXzEiLCJvIjoib3JnXzEiLCJrIjoibSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1oZXJl"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_tracing_is_on_only_with_an_otlp_endpoint_and_not_disabled():
    assert not tracing.wanted({})
    assert not tracing.wanted({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "True"})
    assert not tracing.configure_tracing("link-issuer", {})
    assert not tracing.ENABLED


def test_traceparent_is_read_as_w3c_trace_context_says():
    parsed = tracing.parse_traceparent(TRACEPARENT, "vendor=1")
    assert parsed is not None and parsed.is_remote and parsed.trace_flags.sampled
    assert (f"{parsed.trace_id:032x}", f"{parsed.span_id:016x}") == (TRACE_ID, "00f067aa0ba902b7")
    assert parsed.trace_state.to_header() == "vendor=1"
    assert tracing.format_traceparent(parsed) == TRACEPARENT
    assert tracing.parse_traceparent(f"01-{TRACE_ID}-00f067aa0ba902b7-01-more") is not None  # a later version
    for bad in (None, "", "garbage", TRACEPARENT.upper(), f"ff-{TRACE_ID}-00f067aa0ba902b7-01",
                f"00-{'0' * 32}-00f067aa0ba902b7-01", f"00-{TRACE_ID}-{'0' * 16}-01", f"{TRACEPARENT}-more",
                f"00-{TRACE_ID[:-1]}-00f067aa0ba902b7-01"):
        assert tracing.parse_traceparent(bad) is None, bad


def test_a_request_id_of_32_lowercase_hex_digits_is_its_trace_id_and_nothing_else_is():
    assert tracing.request_trace_id(TRACE_ID) == int(TRACE_ID, 16)
    for other in (TRACE_ID.upper(), "0" * 32, TRACE_ID[:-1], "4bf92f35-77b3-4da6-a3ce-929d0e0e4736", "req-1"):
        assert tracing.request_trace_id(other) is None, other


def issued_event(**extensions: str) -> CloudEvent:
    data = PortalLinkIssued(organization_id="org_1", link_id="lnk_1", kind="magic", actor=Actor(kind="api_key", id="key_1"),
                            expire_time=NOW + timedelta(minutes=5), token_sha256="ab" * 32)
    return CloudEvent.wrap(data, source="/tests", time=NOW, event_id="evt_1").model_copy(update=extensions)


def test_an_event_without_trace_context_serialises_as_before_and_with_it_carries_the_extension():
    plain = json.loads(issued_event().to_bytes())
    assert list(plain) == ["specversion", "id", "source", "type", "time", "subject", "datacontenttype",
                           "dataversion", "data"]
    assert plain["data"]["return_url"] is None  # the payload's own nulls stay
    traced = issued_event(traceparent=TRACEPARENT)
    assert json.loads(traced.to_bytes()) == {**plain, "traceparent": TRACEPARENT}
    assert CloudEvent.from_bytes(traced.to_bytes()) == traced
    both = json.loads(issued_event(traceparent=TRACEPARENT, tracestate="vendor=1").to_bytes())
    assert (both["traceparent"], both["tracestate"]) == (TRACEPARENT, "vendor=1")


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test, its spans kept in memory; off again afterwards."""
    for name in ("ENABLED", "_tracer", "_provider"):
        monkeypatch.setattr(tracing, name, getattr(tracing, name))
    exporter = InMemorySpanExporter()
    assert tracing.configure_tracing("test-service", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, exporter)
    yield exporter
    assert tracing._provider is not None
    tracing._provider.shutdown()


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    assert tracing._provider is not None and tracing._provider.force_flush()
    return list(exporter.get_finished_spans())


def test_events_are_stamped_with_the_current_span_unless_they_carry_a_context(spans: InMemorySpanExporter):
    assert tracing.stamped(issued_event()).traceparent is None  # no span, nothing to stamp
    with tracing.continued("work", None, {}) as span:
        stamped = tracing.stamped(issued_event())
        assert stamped.traceparent == tracing.format_traceparent(span.get_span_context())
        assert tracing.stamped(issued_event(traceparent=TRACEPARENT)).traceparent == TRACEPARENT


@asynccontextmanager
async def no_resources(_: FastAPI) -> AsyncIterator[None]:
    yield


def app_with_a_link_route() -> FastAPI:
    app = create_http_app("test-service", no_resources)

    @app.get("/portal/l/{token}")
    async def redeem(token: str) -> dict[str, str | None]:
        return tracing.current_trace_headers() | {"ok": "yes"}

    return app


async def test_a_request_is_one_server_span_named_by_its_route_with_the_request_id_as_trace_id(
    spans: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
):
    configure_logging("test-service", "info", "json")
    try:
        transport = httpx.ASGITransport(app=app_with_a_link_route())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get(f"/portal/l/{TOKEN}?next=secret", headers={"X-Request-ID": TRACE_ID})
            other = await client.get("/portal/l/x", headers={"X-Request-ID": "not-hex", "traceparent": TRACEPARENT})
            random = await client.get("/nowhere", headers={"X-Request-ID": "not-hex"})
    finally:
        logging.getLogger().handlers.clear()
    assert answer.status_code == 200 and answer.json()["traceparent"].startswith(f"00-{TRACE_ID}-")
    first, second, third = finished(spans)
    assert first.name == "GET /portal/l/{token}" and first.kind is SpanKind.SERVER and first.parent is None
    assert f"{first.context.trace_id:032x}" == TRACE_ID
    assert dict(first.attributes or {}) == {"http.request.method": "GET", "http.route": "/portal/l/{token}",
                                            "http.response.status_code": 200}
    # A caller's trace context wins over the request id.
    assert second.parent is not None and f"{second.context.trace_id:032x}" == TRACE_ID and other.status_code == 200
    assert f"{second.parent.span_id:016x}" == "00f067aa0ba902b7"
    # No route matched: the method alone names it; a request id that is no trace id leaves a random one.
    assert third.name == "GET" and random.status_code == 404 and f"{third.context.trace_id:032x}" != TRACE_ID
    request_line = next(json.loads(line) for line in capsys.readouterr().out.splitlines() if TRACE_ID in line)
    assert request_line["trace_id"] == TRACE_ID
    for span in (first, second, third):
        assert "secret" not in repr(span.to_json()) and TOKEN.split(".")[1] not in span.to_json()


def record(offset: int, traceparent: str | None) -> ConsumerRecord:
    headers = [("ce_id", f"evt_{offset}".encode()), ("ce_type", b"portico.portal_link.issued")]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return ConsumerRecord(TOPIC_LINKS, 3, offset, 0, 0, b"org_1", b"{}", None, 5, 2, headers)


async def test_a_consumer_continues_each_records_trace_and_what_it_queues_continues_a_single_one(
    spans: InMemorySpanExporter
):
    seen: list[dict[str, str]] = []

    async def handler(records: tuple[ConsumerRecord, ...]) -> None:
        seen.append(tracing.current_trace_headers())

    await tracing.traced_batch(handler, (record(0, None), record(1, TRACEPARENT)), "portico-tests")
    (one,) = finished(spans)
    assert one.name == f"process {TOPIC_LINKS}" and one.kind is SpanKind.CONSUMER
    assert f"{one.context.trace_id:032x}" == TRACE_ID and seen[0]["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert dict(one.attributes or {})["messaging.kafka.offset"] == 1
    assert dict(one.attributes or {})["cloudevents.event_id"] == "evt_1"

    spans.clear()
    other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await tracing.traced_batch(handler, (record(2, TRACEPARENT), record(3, other)), "portico-tests")
    finished_spans = finished(spans)
    batch = next(span for span in finished_spans if not span.parent)
    per_record = [span for span in finished_spans if span.parent]
    assert {f"{span.context.trace_id:032x}" for span in per_record} == {TRACE_ID, other.split("-")[1]}
    assert {f"{link.context.trace_id:032x}" for link in batch.links} == {TRACE_ID, other.split("-")[1]}
    assert seen[1]["traceparent"].split("-")[1] == f"{batch.context.trace_id:032x}"

    spans.clear()
    await tracing.traced_batch(handler, (record(4, None),), "portico-tests")  # nothing traced: no span
    assert finished(spans) == []


async def test_a_continued_flow_is_a_child_of_the_kept_context_linked_to_the_current_span(spans: InMemorySpanExporter):
    with tracing.continued("request", None, {}) as request:
        with tracing.continued("redeem portal link", TRACEPARENT, {"portico.link.kind": "magic"}) as redemption:
            assert f"{redemption.get_span_context().trace_id:032x}" == TRACE_ID
        with tracing.continued("redeem portal link", None, {}) as fallback:
            assert fallback.get_span_context().trace_id == request.get_span_context().trace_id
    kept = next(span for span in finished(spans) if span.context.trace_id == int(TRACE_ID, 16))
    assert [link.context.span_id for link in kept.links] == [request.get_span_context().span_id]
