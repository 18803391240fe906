"""Reading the services' /metrics as Prometheus would: each process on its own port, never through the proxy."""
import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import Settings


def ports(settings: Settings) -> dict[str, int]:
    return {"link-issuer": settings.link_issuer_port, "portal-session": settings.portal_session_port,
            "connection-config": settings.connection_config_port, "audit": settings.audit_port,
            "console": settings.console_port}


async def scrape(port: int) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as service:
        answer = await service.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return answer.text


async def scrape_all(settings: Settings) -> dict[str, str]:
    return {name: await scrape(port) for name, port in ports(settings).items()}


def sample(text: str, family_name: str, suffix: str = "_total", **labels: str) -> float:
    """A series' value for exactly these labels (0 when it does not exist yet); a counter by default, a gauge
    with suffix=""."""
    return sum(found.value for family in text_string_to_metric_families(text) if family.name == family_name
               for found in family.samples if found.name == family_name + suffix and found.labels == labels)


def series(text: str, name: str) -> list[dict[str, str]]:
    """The label sets of every sample called `name` (a histogram's `_count`, a counter's `_total`)."""
    return [dict(found.labels) for family in text_string_to_metric_families(text)
            for found in family.samples if found.name == name]
