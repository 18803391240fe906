"""Tracing for real: link-issuer, portal-session and audit restarted with an OTLP endpoint (a receiver in this
test, on loopback), a magic link issued through the proxy and opened. One trace, whose id is the proxy's
request id for the issue, holds the issue's request span, portal-session consuming the `issued` event, the
redemption, link-issuer's check of it and audit recording the redemption; no span holds the link's token.
Afterwards every service is back without the OTEL_* variables, ready."""
import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from shared.settings import Settings
from tests.factories import create_organization
from tests.integration.polling import eventually
from tests.integration.stack import is_ours, run_script, services_ready

TRACED = ("link-issuer", "portal-session", "audit")
KIND_SERVER, KIND_CONSUMER = 2, 5  # opentelemetry.proto.trace.v1.Span.SpanKind


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict[str, Any]
    link_trace_ids: tuple[str, ...]


def _value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value") or "string_value")


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver (POST /v1/traces, protobuf) keeping every span it is sent."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(ReceivedSpan(
                        resource.get("service.name", ""), span.trace_id.hex(), span.span_id.hex(),
                        span.parent_span_id.hex(), span.name, span.kind,
                        {a.key: _value(a.value) for a in span.attributes},
                        tuple(link.trace_id.hex() for link in span.links),
                    ))
        with self.lock:
            self.spans.extend(received)

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def everything(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


@contextmanager
def otlp_receiver() -> Iterator[tuple[Receiver, int]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            receiver.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield receiver, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def restart(env: dict[str, str]) -> None:
    assert run_script("services.sh", "stop", *TRACED, timeout=120).returncode == 0
    started = run_script("services.sh", "start", *TRACED, timeout=120, env=env)
    assert started.returncode == 0, started.stderr


@pytest.fixture
async def traced_stack(settings: Settings) -> AsyncIterator[Receiver]:
    """link-issuer, portal-session and audit exporting their spans to a receiver here; afterwards (whatever
    happened) restarted without any OTEL_* variable, and ready."""
    if not all(is_ours(name) for name in TRACED):
        pytest.skip("needs the services started by deploy/local")
    ports = (settings.link_issuer_port, settings.portal_session_port, settings.audit_port)
    with otlp_receiver() as (receiver, port):
        try:
            restart({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "OTEL_BSP_SCHEDULE_DELAY": "200"})
            assert await eventually(lambda: services_ready(ports), bool, timeout_s=60)
            yield receiver
        finally:
            restart({})
            assert await eventually(lambda: services_ready(ports), bool, timeout_s=60)


def one(spans: list[ReceivedSpan], service: str, name: str, **attributes: Any) -> ReceivedSpan | None:
    return next((span for span in spans if span.service == service and span.name == name
                 and all(span.attributes.get(key) == value for key, value in attributes.items())), None)


async def test_a_links_issue_redemption_and_audit_record_are_one_trace_keyed_by_the_proxys_request_id(
    traced_stack: Receiver, api: httpx.AsyncClient
):
    org = await create_organization(api, "Traced Co")
    issued = await api.put(f"/api/v1/organizations/{org}/portal_links")
    assert issued.status_code == 200, issued.text
    link = issued.json()["link"]
    trace_id = issued.headers["x-request-id"]
    assert len(trace_id) == 32 and int(trace_id, 16)  # nginx's $request_id: the issue's trace id

    async def spans() -> list[ReceivedSpan]:
        return traced_stack.of_trace(trace_id)

    # The `issued` event has reached portal-session's Redis state (the span ends once it is applied)...
    armed = await eventually(spans, lambda found: one(
        found, "portal-session", "process portico.links", **{"messaging.consumer.group.name": "portico-portal-session"}
    ) is not None, timeout_s=60)
    assert one(armed, "portal-session", "process portico.links"), [(s.service, s.name) for s in traced_stack.everything()]
    # ...then the admin opens the link, in a request of its own.
    async with httpx.AsyncClient(timeout=10) as browser:
        opened = await browser.get(link["location"])
    assert opened.status_code == 303

    def complete(found: list[ReceivedSpan]) -> bool:
        return one(found, "audit", "process portico.sessions",
                   **{"cloudevents.event_type": "portico.portal_link.redeemed"}) is not None
    trace = await eventually(spans, complete, timeout_s=30)

    issue = one(trace, "link-issuer", "PUT /api/v1/organizations/{organization_id}/portal_links")
    assert issue is not None and issue.kind == KIND_SERVER and issue.parent_span_id == ""
    assert issue.attributes == {"http.request.method": "PUT", "http.route": "/api/v1/organizations/{organization_id}/portal_links",
                                "http.response.status_code": 200}
    consumed = one(trace, "portal-session", "process portico.links", **{"cloudevents.event_type": "portico.portal_link.issued"})
    assert consumed is not None and consumed.kind == KIND_CONSUMER and consumed.parent_span_id == issue.span_id
    redemption = one(trace, "portal-session", "redeem portal link")
    assert redemption is not None and redemption.parent_span_id == issue.span_id
    assert redemption.attributes["portico.redemption.outcome"] == "ok"
    assert redemption.link_trace_ids == (opened.headers["x-request-id"],)  # the browser request's own trace
    check = one(trace, "link-issuer", "POST /internal/portal_links/{link_id}/redemptions")
    assert check is not None and check.parent_span_id == redemption.span_id
    recorded = one(trace, "audit", "process portico.sessions", **{"cloudevents.event_type": "portico.portal_link.redeemed"})
    assert recorded is not None and recorded.kind == KIND_CONSUMER and recorded.parent_span_id == redemption.span_id
    request = one(traced_stack.of_trace(opened.headers["x-request-id"]), "portal-session", "GET /portal/l/{token}")
    assert request is not None and request.attributes["http.response.status_code"] == 303

    await asyncio.sleep(0.5)  # one more export round: every span of the flow is in
    token = link["location"].rsplit("/", 1)[1]
    secrets = [token, *(part for part in token.split(".") if len(part) >= 16)]
    for span in traced_stack.everything():
        text = repr((span.name, span.attributes))
        assert not any(secret in text for secret in secrets), span
