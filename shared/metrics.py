"""Prometheus metrics of a service process, served at `GET /metrics` on the service's own port (the proxy never
routes it: Prometheus scrapes each instance directly).

One registry per process, so several instances of a service are several targets, each with its own counters.
Labels are bounded by construction: a route is the template the request matched
(`/api/v1/organizations/{organization_id}/portal_links`), never the path, which carries ids and link tokens;
a method outside the standard ones is `other`; a status is a number. No label ever holds a token, an email, an
organization's id or name, or anything else a caller chooses.
"""
import time
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from itertools import product

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from starlette.types import Scope

from shared.periodic import Periodic

# No `_created` series beside every counter and histogram: half the scrape, and no use here. (prometheus-client
# leaves this one function unannotated.)
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # CPU seconds, resident memory, open file descriptors
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route of a request no route matched (a 404, a probe)

HTTP_REQUESTS = Counter(
    "portico_http_requests_total", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"], registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "portico_http_request_duration_seconds", "Time to answer an HTTP request, by method and route template.",
    ["method", "route"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


SERVICE_INFO = Gauge(
    "portico_service_info", "Always 1: which Portico service this process is, and its version.", ["service", "version"],
    registry=REGISTRY,
)
EVENT_LOOP_LAG = Histogram(
    "portico_event_loop_lag_seconds",
    "How late a timer set every 0.5 s fires: time the event loop spent on something else (a blocking call, a CPU "
    "burst) while it should have run.",
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

# The outbox relays (shared/outbox.py, shared/redis_outbox.py); `outbox` is the relaying service's name.
OUTBOX_PENDING = Gauge(
    "portico_outbox_events_pending", "Events queued in the outbox and not yet acknowledged by Kafka (sampled).",
    ["outbox"], registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "portico_outbox_oldest_event_age_seconds",
    "Age of the oldest event still in the outbox, 0 when it is empty (sampled): it grows while Kafka is away or the "
    "relay is stuck.",
    ["outbox"], registry=REGISTRY,
)
OUTBOX_PUBLISHED = Counter(
    "portico_outbox_events_published_total", "Events the relay published and Kafka acknowledged.", ["outbox"],
    registry=REGISTRY,
)

# The consumer groups (shared/consumers.py).
CONSUMER_LAG = Gauge(
    "portico_consumer_lag_records",
    "Records of a partition the group has not handled yet: the partition's high-water mark minus the group's "
    "position, as this instance last saw them (each instance reports the partitions assigned to it).",
    ["group", "topic", "partition"], registry=REGISTRY,
)
CONSUMER_RECORDS = Counter(
    "portico_consumer_records_total", "Records handed to the group's handler in batches that succeeded.", ["group"],
    registry=REGISTRY,
)
CONSUMER_FAILED_BATCHES = Counter(
    "portico_consumer_batches_failed_total", "Batches whose handler raised; the batch is delivered again.", ["group"],
    registry=REGISTRY,
)


def start_at_zero(metric: Counter, *label_values: Iterable[str]) -> None:
    """Create every series of a bounded label set (one iterable of values per label, in order) at 0, so a rate
    over it is defined before its first event."""
    for values in product(*label_values):
        metric.labels(*values)


def record_service(service: str) -> None:
    try:
        installed = version("portico")
    except PackageNotFoundError:
        installed = "unknown"
    SERVICE_INFO.labels(service, installed).set(1)


def event_loop_monitor(interval_s: float = 0.5) -> Periodic:
    """Observes, every `interval_s`, how much later than planned the loop got back to it."""
    planned = 0.0

    async def tick() -> None:
        nonlocal planned
        now = time.perf_counter()
        if planned:
            EVENT_LOOP_LAG.observe(max(0.0, now - planned))
        planned = now + interval_s

    return Periodic("event-loop-monitor", tick, interval_s)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (set in the scope by the router), or `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def method_of(scope: Scope) -> str:
    method = scope.get("method", "")
    return method if method in HTTP_METHODS else "other"


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    method, route = method_of(scope), route_of(scope)
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus's text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
