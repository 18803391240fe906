"""With link-issuer down, the routes whose API key it checks (connections, audit) answer 503 JSON like
every other route, not nginx's 500: found by `make chaos` killing link-issuer mid-load. The console, a
process of its own, still answers."""
import httpx
import pytest

from shared.settings import Settings
from tests.integration.polling import eventually
from tests.integration.stack import is_ours, run_script, services_ready


async def test_routes_checked_by_link_issuer_answer_503_json_while_it_is_down(
    api: httpx.AsyncClient, settings: Settings
):
    if not (is_ours("link-issuer") and is_ours("nginx")):
        pytest.skip("needs link-issuer and the proxy started by deploy/local")
    assert run_script("services.sh", "stop", "link-issuer").returncode == 0
    try:
        for path in ("/api/v1/organizations/org_x/connections", "/api/v1/audit/events"):
            response = await api.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"]["code"] == "service_unavailable"
        console = await api.get("/console/api/session")
        assert console.status_code == 401 and console.json()["error"]["code"] == "not_signed_in", console.text
    finally:
        assert run_script("services.sh", "start", "link-issuer").returncode == 0
        assert await eventually(lambda: services_ready([settings.link_issuer_port]), bool, timeout_s=60)
