"""Portico's alert rules (deploy/prometheus/alerts.yml) load in promtool and pass their unit tests on recorded series
(alerts.test.yml), each alert both firing and quiet; the chart installs exactly those rules; the rules and the
Grafana dashboard ask only for metrics and labels the services export; docs/operating.md covers every alert.
Needs promtool (Debian package prometheus, which deploy/local/install.sh --tests installs)."""
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "deploy/prometheus"
RULES = PROMETHEUS_DIR / "alerts.yml"
RULE_TESTS = PROMETHEUS_DIR / "alerts.test.yml"
DASHBOARD = PROMETHEUS_DIR / "grafana-portico.json"
CHART = ROOT / "deploy/helm/portico"
OPERATING_DOC = ROOT / "docs/operating.md"

# What the services export (shared/metrics.py and each service's metrics.py): name -> its labels. Every series also
# has the scrape's job and instance; a histogram's _bucket its le.
COUNTERS_AND_GAUGES: dict[str, set[str]] = {
    "up": set(),
    "portico_service_info": {"service", "version"},
    "portico_http_requests_total": {"method", "route", "status"},
    "process_cpu_seconds_total": set(),
    "process_resident_memory_bytes": set(),
    "process_open_fds": set(),
    "process_start_time_seconds": set(),
    "python_gc_collections_total": {"generation"},
    "python_gc_objects_collected_total": {"generation"},
    "portico_links_issued_total": {"kind"},
    "portico_redemptions_total": {"kind", "outcome"},
    "portico_sessions_started_total": {"kind"},
    "portico_sessions_ended_total": {"reason"},
    "portico_outbox_events_pending": {"outbox"},
    "portico_outbox_oldest_event_age_seconds": {"outbox"},
    "portico_outbox_events_published_total": {"outbox"},
    "portico_consumer_lag_records": {"group", "topic", "partition"},
    "portico_consumer_records_total": {"group"},
    "portico_consumer_batches_failed_total": {"group"},
    "portico_audit_records_written_total": set(),
    "portico_audit_verifications_total": {"trigger", "result"},
    "portico_audit_chain_broken": set(),
    "portico_audit_last_verification_timestamp_seconds": set(),
    "portico_connection_changes_total": {"type", "change"},
    "portico_sign_ins_total": {"protocol", "kind", "outcome"},
    "portico_connection_certificate_next_expiry_timestamp_seconds": set(),
    "portico_connections_certificate_expiring": set(),
}
HISTOGRAMS: dict[str, set[str]] = {
    "portico_http_request_duration_seconds": {"method", "route"},
    "portico_event_loop_lag_seconds": set(),
}
TARGET_LABELS = {"job", "instance"}

PROMQL_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?[a-z]*|[A-Za-z_:][A-Za-z0-9_:]*|=~|!~|!=|==|>=|<=|\S'
)
AGGREGATIONS = {"sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"} | LABEL_LIST_KEYWORDS


def promtool() -> str:
    found = shutil.which("promtool") or ("/usr/bin/promtool" if os.access("/usr/bin/promtool", os.X_OK) else None)
    if found is None:
        pytest.fail("promtool is missing: `make install-test` (deploy/local/install.sh --tests) installs the "
                    "Debian package prometheus")
    return found


def run_promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in rule_groups() for rule in group["rules"] if "alert" in rule}


def recorded_names() -> set[str]:
    return {rule["record"] for group in rule_groups() for rule in group["rules"] if "record" in rule}


def test_alert_rules_load_in_promtool():
    result = run_promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_groups())} rules found" in result.stdout


def test_alert_rules_pass_their_unit_tests_on_recorded_series():
    result = run_promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def copy_rules(folder: Path, replace: str, by: str) -> Path:
    """A copy of the rules and their tests in `folder`, with one change to the rules."""
    text = RULES.read_text()
    assert replace in text
    folder.mkdir()
    (folder / RULES.name).write_text(text.replace(replace, by))
    shutil.copy(RULE_TESTS, folder / RULE_TESTS.name)
    return folder


def test_promtool_catches_a_wrong_threshold_and_a_broken_expression(tmp_path):
    """The two checks above can fail: a threshold off by ten fails the unit tests, a typo fails the check."""
    age = "max by (outbox) (portico_outbox_oldest_event_age_seconds)"
    lax = copy_rules(tmp_path / "lax", f"{age} > 60", f"{age} > 600")
    result = run_promtool("test", "rules", RULE_TESTS.name, cwd=lax)
    assert result.returncode != 0 and "PorticoOutboxBackingUp" in result.stdout + result.stderr
    typo = copy_rules(tmp_path / "typo", age, age.removesuffix(")"))  # an unclosed parenthesis
    assert run_promtool("check", "rules", RULES.name, cwd=typo).returncode != 0


def expected_alerts() -> Iterator[tuple[str, bool]]:
    """(alert name, whether it is expected to fire) for every expectation in alerts.test.yml."""
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            yield case["alertname"], bool(case.get("exp_alerts"))


def test_every_alert_is_tested_firing_and_quiet():
    expectations = set(expected_alerts())
    for name in alerts():
        assert (name, True) in expectations, f"{name} is never expected to fire in {RULE_TESTS.name}"
        assert (name, False) in expectations, f"{name} is never expected to stay quiet in {RULE_TESTS.name}"
    assert {name for name, _ in expectations} <= set(alerts())


def test_every_alert_says_how_bad_it_is_what_happened_and_where_its_runbook_is():
    doc = OPERATING_DOC.read_text()
    headings = {line.lstrip("#").strip() for line in doc.splitlines() if line.startswith("### ")}
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name
        assert rule["annotations"]["runbook"] == f"docs/operating.md#{name.lower()}"
        assert name in headings, f"docs/operating.md has no '### {name}' section"


def find_helm() -> str:
    cache = Path(os.environ.get("PORTICO_CACHE_DIR", Path.home() / ".cache/portico"))
    for candidate in (os.environ.get("PORTICO_HELM"), shutil.which("helm"), str(cache / "bin/helm")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("helm is not installed: `bash deploy/helm/tools.sh install` builds it with Go (once)")


def render_chart(*values: str) -> list[dict[str, Any]]:
    args = [arg for value in values for arg in ("--set", value)]
    result = subprocess.run([find_helm(), "template", "portico", str(CHART), *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_the_chart_installs_exactly_these_rules():
    """files/alerts.yml in the chart is a link to deploy/prometheus/alerts.yml (a chart reads only its own folder),
    and the PrometheusRule carries its groups unchanged."""
    in_chart = CHART / "files/alerts.yml"
    assert in_chart.is_symlink() and in_chart.resolve() == RULES.resolve()
    manifests = render_chart("metrics.prometheusRule.enabled=true", "metrics.prometheusRule.labels.release=monitoring")
    (rule,) = [m for m in manifests if m["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "monitoring"
    assert rule["spec"]["groups"] == rule_groups()
    assert not [m for m in render_chart() if m["kind"] == "PrometheusRule"]  # off by default: it needs the CRD


SCRAPED = {"link-issuer": 8101, "portal-session": 8102, "connection-config": 8103, "audit": 8104, "console": 8105}


def test_the_chart_scrapes_every_service_by_annotation_or_service_monitor_and_lets_the_scraper_in():
    quiet = render_chart()
    for m in quiet:
        if m["kind"] == "Deployment":
            assert not any(k.startswith("prometheus.io/") for k in m["spec"]["template"]["metadata"]["annotations"])
        if m["kind"] == "NetworkPolicy" and m["metadata"]["name"].removeprefix("portico-") in SCRAPED:
            assert len(m["spec"]["ingress"]) == 1  # callers only
    for switch in ("metrics.podAnnotations=true", "metrics.serviceMonitor.enabled=true"):
        manifests = render_chart(switch)
        deployments = {m["metadata"]["name"].removeprefix("portico-"): m for m in manifests if m["kind"] == "Deployment"}
        policies = {m["metadata"]["name"].removeprefix("portico-"): m for m in manifests if m["kind"] == "NetworkPolicy"}
        for service, port in SCRAPED.items():
            annotations = deployments[service]["spec"]["template"]["metadata"]["annotations"]
            if switch.startswith("metrics.podAnnotations"):
                assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == str(port)
                assert annotations["prometheus.io/path"] == "/metrics"
            scraper = policies[service]["spec"]["ingress"][-1]
            assert scraper["ports"] == [{"port": port, "protocol": "TCP"}]
            assert scraper["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
        assert not any(k.startswith("prometheus.io/") for k in deployments["proxy"]["spec"]["template"]["metadata"]["annotations"])
    (monitor,) = [m for m in render_chart("metrics.serviceMonitor.enabled=true") if m["kind"] == "ServiceMonitor"]
    (components,) = monitor["spec"]["selector"]["matchExpressions"]
    assert set(components["values"]) == set(SCRAPED)


def selectors(expr: str) -> Iterator[tuple[str, set[str]]]:
    """(metric name, label names it is matched on) for each series a PromQL expression selects; ("", labels) for a
    by/without/on/ignoring/group_* list."""
    tokens = [t for t in PROMQL_TOKEN.findall(expr) if not t.startswith("[")]
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in LABEL_LIST_KEYWORDS and following == "(":
            end = tokens.index(")", i)
            yield "", {t for t in tokens[i + 2:end] if t != ","}
            i = end + 1
            continue
        if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", token) and token not in KEYWORDS | AGGREGATIONS and following != "(":
            labels: set[str] = set()
            if following == "{":
                end = tokens.index("}", i)
                inside = tokens[i + 2:end]
                labels = {inside[k] for k in range(len(inside) - 1) if inside[k + 1] in ("=", "!=", "=~", "!~")}
                i = end
            yield token, labels
        i += 1


def exported_labels(name: str) -> set[str] | None:
    """The labels a series of this name can have, or None when no service exports it."""
    if name in COUNTERS_AND_GAUGES:
        return COUNTERS_AND_GAUGES[name] | TARGET_LABELS
    for histogram, labels in HISTOGRAMS.items():
        if name == f"{histogram}_bucket":
            return labels | TARGET_LABELS | {"le"}
        if name in (f"{histogram}_sum", f"{histogram}_count"):
            return labels | TARGET_LABELS
    return None


def dashboard() -> dict[str, Any]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return board


def dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every rule and every dashboard query (label_values(selector, label) as its selector)."""
    for group in rule_groups():
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]
    for panel in dashboard_panels():
        for target in panel["targets"]:
            yield f"panel {panel['title']!r}", target["expr"]
    for variable in dashboard()["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query["query"])
            assert found, f"variable {variable['name']}: {query['query']}"
            selector, label = found.groups()
            yield f"variable {variable['name']}", f"{selector} and on({label}) {selector}"


def test_rules_and_dashboard_ask_only_for_exported_metrics_and_their_labels():
    recorded = recorded_names()
    every_label = set().union(*COUNTERS_AND_GAUGES.values(), *HISTOGRAMS.values()) | TARGET_LABELS | {"le"}
    used = set()
    for where, expr in expressions():
        for name, labels in selectors(expr):
            if not name:
                assert labels <= every_label, f"{where}: no metric has the labels {labels - every_label}"
                continue
            used.add(name)
            if name in recorded:
                continue
            known = exported_labels(name)
            assert known is not None, f"{where}: no service exports {name}"
            assert labels <= known, f"{where}: {name} has no label {labels - known}"
    assert "portico_redemptions_total" in used and "portico_event_loop_lag_seconds_bucket" in used  # the parser sees them


def test_the_metric_check_sees_a_misspelt_metric_or_label():
    found = list(selectors('sum by (job) (rate(portico_redemption_total{outcom="other", route="/portal/l/{token}"}[5m]))'))
    assert found == [("", {"job"}), ("portico_redemption_total", {"outcom", "route"})]
    assert exported_labels("portico_redemption_total") is None
    assert "outcom" not in (exported_labels("portico_redemptions_total") or set())


def test_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus_with_job_and_instance_filters():
    board = dashboard()
    assert board["uid"] and board["title"] == "Portico" and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance"} <= set(variables)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        cells = {(box["x"] + dx, box["y"] + dy) for dx in range(box["w"]) for dy in range(box["h"])}
        assert not cells & taken, f"panel {panel['title']!r} overlaps another"
        taken |= cells
    for panel in dashboard_panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
        if panel["title"] not in {"Redemptions failing (Portico's side)", "Audit chain", "Soonest SAML certificate expiry",
                                  "SAML certificates"}:
            assert all('job=~"$job"' in t["expr"] and 'instance=~"$instance"' in t["expr"] for t in panel["targets"]), \
                panel["title"]


def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool parses each query as a recording rule, with Grafana's variables given values."""
    values = {"$__rate_interval": "1m", "$job": ".*", "$instance": ".*"}
    rules = []
    for number, (_, expr) in enumerate(expressions()):
        for variable, value in values.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query:{number}", "expr": expr})
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_shows_what_the_issue_asks_for():
    used = {name for _, expr in expressions() for name, _ in selectors(expr) if name}
    for metric in ("portico_http_requests_total", "portico_http_request_duration_seconds_bucket",
                   "portico_redemptions_total", "portico_sessions_started_total", "portico_sessions_ended_total",
                   "portico_outbox_events_pending", "portico_outbox_oldest_event_age_seconds",
                   "portico_consumer_lag_records", "portico_audit_records_written_total",
                   "portico_audit_verifications_total", "portico_sign_ins_total",
                   "portico_connection_certificate_next_expiry_timestamp_seconds",
                   "portico_event_loop_lag_seconds_bucket", "process_cpu_seconds_total",
                   "process_resident_memory_bytes"):
        assert metric in used, metric
