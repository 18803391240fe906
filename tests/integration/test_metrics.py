"""Every service process answers GET /metrics on its own port, and a link's flow through the proxy moves the
counters of the routes it took and of what happened (a magic link issued, opened once, refused the second time),
without its token, its ids or the organization in any label; the proxy does not route /metrics."""
import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import Settings
from tests.factories import create_organization, magic_link


def ports(settings: Settings) -> dict[str, int]:
    return {"link-issuer": settings.link_issuer_port, "portal-session": settings.portal_session_port,
            "connection-config": settings.connection_config_port, "audit": settings.audit_port,
            "console": settings.console_port}


async def scrape(port: int) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as service:
        answer = await service.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return answer.text


def sample(text: str, family_name: str, **labels: str) -> float:
    """A counter's value for exactly these labels (0 when the series does not exist yet)."""
    return sum(found.value for family in text_string_to_metric_families(text) if family.name == family_name
               for found in family.samples if found.name.endswith("_total") and found.labels == labels)


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
