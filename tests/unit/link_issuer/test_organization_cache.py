"""link-issuer reads an organization's row once per process: organizations never change after creation, and
issuing a link needs one (a database round trip less per link). An unknown id is asked again each time: it
may be created a moment later."""
from datetime import UTC, datetime

import pytest

from link_issuer import links as links_module
from link_issuer.links import LinkService
from shared.errors import NotFound
from shared.ids import SystemClock
from shared.settings import Settings

CREATED = datetime(2026, 12, 6, tzinfo=UTC)


class Rows:
    """The one query LinkService.organization makes, answered from memory and counted."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.asked: list[str] = []

    async def fetchrow(self, query: str, organization_id: str) -> dict[str, object] | None:
        self.asked.append(organization_id)
        if organization_id not in self.known:
            return None
        return {"id": organization_id, "display_name": "Acme", "external_id": None,
                "allowed_frame_ancestors": ["https://app.example"], "created_at": CREATED}


def service(rows: Rows) -> LinkService:
    settings = Settings(link_signing_key="k" * 64, public_url="https://portico.example")
    return LinkService(lambda: rows, settings, SystemClock())  # type: ignore[arg-type, return-value]


async def test_an_organization_is_read_once_and_an_unknown_one_every_time():
    rows = Rows({"org_a"})
    links = service(rows)
    first, again = await links.organization("org_a"), await links.organization("org_a")
    assert first == again and first.allowed_frame_ancestors == ["https://app.example"]
    for _ in range(2):
        with pytest.raises(NotFound):
            await links.organization("org_new")
    rows.known.add("org_new")
    assert (await links.organization("org_new")).id == "org_new"
    assert rows.asked == ["org_a", "org_new", "org_new", "org_new"]


async def test_the_least_recently_used_organization_goes_first_when_the_cache_is_full(monkeypatch):
    monkeypatch.setattr(links_module, "ORGANIZATIONS_KEPT", 2)
    rows = Rows({"org_a", "org_b", "org_c"})
    links = service(rows)
    for organization_id in ("org_a", "org_b", "org_a", "org_c", "org_a", "org_b"):
        await links.organization(organization_id)
    assert rows.asked == ["org_a", "org_b", "org_c", "org_b"]  # org_b was the least recently used when org_c came
