"""Every service's /metrics: requests counted and timed by route template, never by a path that carries ids
or link tokens, and no label value a caller chooses."""
import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from shared.health import health_router
from shared.metrics import EVENT_LOOP_LAG, event_loop_monitor
from shared.periodic import Periodic
from shared.service import create_http_app


@asynccontextmanager
async def nothing(_: FastAPI) -> AsyncIterator[None]:
    yield


def client() -> TestClient:
    app = create_http_app("metrics-test", nothing)
    app.include_router(health_router("metrics-test", {}))

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    return TestClient(app)


def requests_counted(text: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "portico_http_requests":
            for sample in family.samples:
                if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
    return 0.0


def test_a_request_is_counted_under_its_route_template_and_the_id_in_its_path_is_nowhere():
    with client() as http:
        before = requests_counted(http.get("/metrics").text, method="GET", route="/things/{thing_id}", status="200")
        assert http.get("/things/org_5ecret1d").status_code == 200
        text = http.get("/metrics").text
    assert requests_counted(text, method="GET", route="/things/{thing_id}", status="200") == before + 1
    assert "portico_http_request_duration_seconds_bucket" in text
    assert "org_5ecret1d" not in text


def test_a_path_no_route_matches_is_unmatched_and_an_odd_method_is_other():
    with client() as http:
        assert http.get("/portal/l/v1.abc.def-token-like").status_code == 404
        assert http.request("PROPFIND", "/things/x").status_code == 405
        text = http.get("/metrics").text
    assert requests_counted(text, method="GET", route="unmatched", status="404") >= 1
    assert requests_counted(text, method="other", status="405") >= 1
    assert "def-token-like" not in text and "PROPFIND" not in text


def test_the_process_itself_is_in_the_scrape():
    with client() as http:
        text = http.get("/metrics").text
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_gc_collections"} <= names


async def test_the_loop_monitor_sees_a_blocked_event_loop():
    """A call that blocks the loop for 0.3 s shows as a late tick in portico_event_loop_lag_seconds."""
    def late_ticks() -> float:  # ticks at least 0.25 s late
        return next(s.value for s in EVENT_LOOP_LAG.collect()[0].samples
                    if s.name.endswith("_bucket") and s.labels["le"] == "0.25")

    def all_ticks() -> float:
        return next(s.value for s in EVENT_LOOP_LAG.collect()[0].samples if s.name.endswith("_count"))

    monitor = event_loop_monitor(0.05)
    on_time_before, ticks_before = late_ticks(), all_ticks()
    monitor.start()
    await asyncio.sleep(0.12)
    time.sleep(0.3)
    await asyncio.sleep(0.12)
    await monitor.stop()
    ticks = all_ticks() - ticks_before
    assert ticks >= 3
    assert late_ticks() - on_time_before == ticks - 1  # every tick but the blocked one was under 0.25 s late


async def test_a_periodic_sample_outlives_a_failing_round():
    rounds: list[int] = []

    async def sample() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise ConnectionError("the database is away")

    sampler = Periodic("test", sample, 0.01)
    sampler.start()
    await asyncio.sleep(0.1)
    await sampler.stop()
    assert len(rounds) >= 3
