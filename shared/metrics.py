"""Prometheus metrics of a service process, served at `GET /metrics` on the service's own port (the proxy never
routes it: Prometheus scrapes each instance directly).

One registry per process, so several instances of a service are several targets, each with its own counters.
Labels are bounded by construction: a route is the template the request matched
(`/api/v1/organizations/{organization_id}/portal_links`), never the path, which carries ids and link tokens;
a method outside the standard ones is `other`; a status is a number. No label ever holds a token, an email, an
organization's id or name, or anything else a caller chooses.
"""
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from starlette.types import Scope

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
