"""`make up METRICS=1`'s Prometheus (deploy/local/prometheus.sh) scrapes every running service instance, sees
Portico's own series, and has loaded every alert rule of deploy/prometheus/alerts.yml. It reuses one that is already
running (and leaves it running); otherwise it starts it and stops it."""
import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from shared.settings import Settings
from tests.factories import create_organization, magic_link
from tests.integration.stack import ROOT, SERVICES, Stack, run_script

RULES = ROOT / "deploy/prometheus/alerts.yml"


def prometheus_url() -> str | None:
    status = run_script("prometheus.sh", "status", timeout=30)
    found = re.search(r"http://127\.0\.0\.1:\d+", status.stdout)
    return found.group(0) if status.returncode == 0 and found else None


@pytest.fixture(scope="module")
def prometheus(stack: Stack) -> Iterator[str]:
    url = prometheus_url()
    started_here = url is None
    if started_here:
        started = run_script("prometheus.sh", "start", timeout=60)
        assert started.returncode == 0, started.stderr
        url = prometheus_url()
    assert url is not None
    try:
        yield url
    finally:
        if started_here:
            run_script("prometheus.sh", "stop", timeout=60)


def running_instances(settings: Settings) -> dict[str, str]:
    """instance (127.0.0.1:port) -> service, for every service instance whose recorded process is alive
    (link-issuer on 8101, link-issuer-2 on 8111, …: deploy/local/common.sh)."""
    first_port = {"link-issuer": settings.link_issuer_port, "portal-session": settings.portal_session_port,
                  "connection-config": settings.connection_config_port, "audit": settings.audit_port,
                  "console": settings.console_port}
    found = {}
    for service in SERVICES:
        for pid_file in (ROOT / ".run/pids").glob(f"{service}*.pid"):
            suffix = pid_file.stem[len(service):]
            if suffix and not re.fullmatch(r"-\d+", suffix):
                continue  # another service's name that starts with this one's
            replica = int(suffix[1:]) if suffix else 1
            try:
                os.kill(int(pid_file.read_text()), 0)
            except (OSError, ValueError):
                continue
            found[f"127.0.0.1:{first_port[service] + 10 * (replica - 1)}"] = service
    return found


def query(url: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def test_local_prometheus_scrapes_every_instance_and_loads_every_alert(prometheus: str, settings: Settings):
    expected = running_instances(settings)
    assert set(expected.values()) == set(SERVICES), expected
    deadline = time.monotonic() + 25
    health: dict[str, tuple[str, str]] = {}
    while time.monotonic() < deadline:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        health = {t["labels"]["instance"]: (t["labels"]["job"], t["health"]) for t in targets}
        if all(health.get(instance) == (service, "up") for instance, service in expected.items()):
            break
        time.sleep(0.5)
    assert all(health.get(instance) == (service, "up") for instance, service in expected.items()), health

    up = {r["metric"]["instance"]: r["value"][1] for r in query(prometheus, "up")}
    assert all(up.get(instance) == "1" for instance in expected), up
    deadline = time.monotonic() + 10  # a target is up after its first scrape; its series are queryable right after
    info: dict[str, str] = {}
    while time.monotonic() < deadline and set(info) != set(expected):
        info = {r["metric"]["instance"]: r["metric"]["service"] for r in query(prometheus, "portico_service_info")}
        time.sleep(0.5)
    assert {i: s for i, s in info.items() if i in expected} == expected

    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = {rule["name"] for group in rules for rule in group["rules"] if rule["type"] == "alerting"}
    written = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
               if "alert" in rule}
    assert loaded == written
    assert not [rule["lastError"] for group in rules for rule in group["rules"] if rule.get("lastError")]


DASHBOARD = ROOT / "deploy/prometheus/grafana-portico.json"
# Panels that are rightly empty on a healthy stack that has just started: no 5xx answered, no redemption
# failure ratio before the recording rules' first evaluations, no whole-log verification in its first minute.
MAY_BE_EMPTY = ("5xx answers by service and route", "Redemptions failing (Portico's side)",
                "Time since the last whole-log verification")


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every panel, with the dashboard's variables as Grafana fills them for 'All'."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(panel["title"], target["expr"].replace("$job", ".*").replace("$instance", ".*")
             .replace("$__rate_interval", "30s"))
            for panel in panels for target in panel.get("targets", [])]


async def test_every_dashboard_panel_reads_real_series_after_a_flow(
    prometheus: str, api: httpx.AsyncClient, proxy_url: str
):
    """The dashboard's queries are valid PromQL for this Prometheus and, after a link is issued and opened, each
    (but the few that are rightly empty) returns series scraped from the running services."""
    org = await create_organization(api, "Dashboard Co")
    link = await magic_link(api, org)
    async with httpx.AsyncClient(timeout=10) as browser:
        assert (await browser.get(link["location"])).status_code == 303
    queries = dashboard_queries()
    assert len(queries) >= 25
    empty: list[str] = []
    deadline = time.monotonic() + 40  # two scrapes 5 s apart after the flow make every rate() answer
    while time.monotonic() < deadline:
        empty = [title for title, promql in queries if not query(prometheus, promql) and title not in MAY_BE_EMPTY]
        if not empty:
            break
        time.sleep(1)
    assert not empty, empty
