"""Every service process answers GET /metrics on its own port, and a link's flow through the proxy moves the
counters of the routes it took and of what happened (a magic link issued, opened once, refused the second time),
without its token, its ids or the organization in any label; the proxy does not route /metrics."""
import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import Settings
from tests.factories import create_organization, magic_link, shareable_link
from tests.integration.metrics_scrape import ports, sample, scrape, scrape_all, series
from tests.integration.polling import eventually


def counted(text: str, method: str, route: str, status: str) -> float:
    return sample(text, "portico_http_requests", method=method, route=route, status=status)


async def test_a_links_flow_moves_each_services_counters_and_leaves_no_id_or_token_in_a_label(
    proxy_url: str, api_key: str, settings: Settings
):
    issue_route = "/api/v1/organizations/{organization_id}/portal_links"
    redeem_route = "/portal/l/{token}"
    before = {name: await scrape(port) for name, port in ports(settings).items()}
    async with httpx.AsyncClient(base_url=proxy_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10) as api:
        org = await create_organization(api, "Metrics Co")
        link = await magic_link(api, org)
        async with httpx.AsyncClient(timeout=10) as browser:
            assert (await browser.get(link["location"])).status_code == 303
        async with httpx.AsyncClient(timeout=10) as second_browser:  # a magic link opens once
            assert (await second_browser.get(link["location"])).status_code == 410
        assert (await api.get("/metrics")).status_code == 404  # the proxy keeps it internal
    after = {name: await scrape(port) for name, port in ports(settings).items()}

    assert counted(after["link-issuer"], "PUT", issue_route, "200") == counted(before["link-issuer"], "PUT", issue_route, "200") + 1
    assert counted(after["portal-session"], "GET", redeem_route, "303") == counted(before["portal-session"], "GET", redeem_route, "303") + 1
    internal = "/internal/portal_links/{link_id}/redemptions"
    assert counted(after["link-issuer"], "POST", internal, "200") >= counted(before["link-issuer"], "POST", internal, "200") + 1
    for outcome in ("ok", "used"):
        assert sample(after["portal-session"], "portico_redemptions", kind="magic", outcome=outcome) == \
            sample(before["portal-session"], "portico_redemptions", kind="magic", outcome=outcome) + 1, outcome
    assert sample(after["link-issuer"], "portico_links_issued", kind="magic") == \
        sample(before["link-issuer"], "portico_links_issued", kind="magic") + 1
    token = link["location"].rsplit("/", 1)[1]
    for name, text in after.items():
        assert "process_resident_memory_bytes" in text, name
        secret_parts = [part for part in token.split(".") if len(part) >= 16]  # not the "v1" version prefix
        for secret in (token, *secret_parts, org, link["id"]):
            assert secret not in text, (name, secret)


# Every metric family Portico documents (README, "Operating Portico"), by the process that serves it.
EVERY_PROCESS = ("portico_service_info", "portico_http_requests", "portico_http_request_duration_seconds",
                 "portico_event_loop_lag_seconds", "process_resident_memory_bytes", "process_cpu_seconds",
                 "python_gc_collections")
OUTBOX = ("portico_outbox_events_pending", "portico_outbox_oldest_event_age_seconds", "portico_outbox_events_published")
CONSUMER = ("portico_consumer_lag_records", "portico_consumer_records", "portico_consumer_batches_failed")
FAMILIES = {
    "link-issuer": (*OUTBOX, *CONSUMER, "portico_links_issued"),
    "portal-session": (*OUTBOX, *CONSUMER, "portico_redemptions", "portico_sessions_started", "portico_sessions_ended"),
    "connection-config": (*OUTBOX, *CONSUMER, "portico_connection_changes", "portico_sign_ins",
                          "portico_connection_certificate_next_expiry_timestamp_seconds",
                          "portico_connections_certificate_expiring"),
    "audit": (*CONSUMER, "portico_audit_records_written", "portico_audit_verifications", "portico_audit_chain_broken",
              "portico_audit_last_verification_timestamp_seconds"),
    "console": (),
}
GROUPS = {"link-issuer": {"portico-link-issuer"},
          "portal-session": {"portico-portal-session", "portico-portal-session-urgent"},
          "connection-config": {"portico-connection-config"}, "audit": {"portico-audit"}}


async def test_sessions_outboxes_consumers_and_audit_are_counted_through_a_links_whole_life(
    api: httpx.AsyncClient, proxy_url: str, settings: Settings
):
    """A magic link's session completed and a shareable link's session ended by revocation move the session
    counters; the events they made are published (outbox), consumed (every group's records) and written to the
    audit log; an audit verification of the organization's chain is counted. Then every documented family is
    in its process's scrape, with lag series per group, partition and topic."""
    before = await scrape_all(settings)
    org = await create_organization(api, "Metrics Lifecycle Co")
    magic = await magic_link(api, org)
    async with httpx.AsyncClient(base_url=proxy_url, timeout=10) as browser:
        assert (await browser.get(magic["location"])).status_code == 303
        csrf = (await browser.get("/portal/api/session")).json()["session"]["csrf_token"]
        done = await browser.post("/portal/api/setup/complete", headers={"X-CSRF-Token": csrf})
        assert done.json()["ended"] is True
    shareable = await shareable_link(api, org)
    async with httpx.AsyncClient(base_url=proxy_url, timeout=10) as browser:
        assert (await browser.get(shareable["location"])).status_code == 303
    assert (await api.delete(f"/api/v1/organizations/{org}/portal_links/{shareable['id']}")).status_code == 204

    def moved(service: str, after: str, family: str, by: float = 1, **labels: str) -> bool:
        """`family` moved by at least `by` in `service`'s scrape since the one before the flow."""
        return sample(after, family, **labels) >= sample(before[service], family, **labels) + by

    # Revocation reaches portal-session through Kafka; the audit log gets the events after their relays.
    session_text = await eventually(lambda: scrape(settings.portal_session_port),
                                    lambda text: moved("portal-session", text, "portico_sessions_ended", reason="revoked"))
    assert moved("portal-session", session_text, "portico_sessions_ended", reason="revoked")
    assert moved("portal-session", session_text, "portico_sessions_started", kind="magic")
    assert moved("portal-session", session_text, "portico_sessions_started", kind="shareable")
    assert moved("portal-session", session_text, "portico_sessions_ended", reason="completed")
    # organization.created, 2 x (issued, redeemed, started), ended, revoked, ended: at least 9 records.
    audit_text = await eventually(lambda: scrape(settings.audit_port),
                                  lambda text: moved("audit", text, "portico_audit_records_written", by=9))
    assert moved("audit", audit_text, "portico_audit_records_written", by=9)
    verified = await api.get("/api/v1/audit/verify", params={"organization_id": org})
    assert verified.status_code == 200 and verified.json()["ok"] is True
    after = await scrape_all(settings)
    assert sample(after["audit"], "portico_audit_verifications", trigger="api", result="ok") == \
        sample(audit_text, "portico_audit_verifications", trigger="api", result="ok") + 1
    assert sample(after["audit"], "portico_audit_chain_broken", suffix="") == 0
    assert moved("link-issuer", after["link-issuer"], "portico_outbox_events_published", by=3, outbox="link-issuer")
    assert moved("portal-session", after["portal-session"], "portico_outbox_events_published", by=5, outbox="portal-session")
    for service, groups in GROUPS.items():
        for group in groups:
            assert sample(after[service], "portico_consumer_batches_failed", group=group) == 0, group
        assert {labels["group"] for labels in series(after[service], "portico_consumer_lag_records")} == groups
    assert moved("audit", after["audit"], "portico_consumer_records", by=9, group="portico-audit")
    assert moved("portal-session", after["portal-session"], "portico_consumer_records", by=2, group="portico-portal-session")

    for service, text in after.items():
        present = {family.name for family in text_string_to_metric_families(text)}
        missing = set(EVERY_PROCESS + FAMILIES[service]) - present
        assert not missing, (service, missing)
        assert series(text, "portico_service_info") == [{"service": service, "version": "0.1.0"}]
        loop_ticks = sample(text, "portico_event_loop_lag_seconds", suffix="_count")
        assert loop_ticks > 0, service  # the loop monitor ticks every 0.5 s
    for service in ("link-issuer", "portal-session", "connection-config"):
        assert sample(after[service], "portico_outbox_oldest_event_age_seconds", suffix="", outbox=service) < 60
