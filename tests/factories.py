"""One factory for what tests make: organizations and links through the management API (as a SaaS
backend would), API keys through link-issuer's accounts (as `portico api-keys create` does).

Each call makes something new, so every test owns what it made; a refused call fails the test with the
answer's body, not later with a KeyError.
"""
import httpx

from shared.settings import Settings


async def create_organization(api: httpx.AsyncClient, display_name: str = "Acme Corp", **fields: object) -> str:
    """A new organization's id; `fields` are the rest of the body (external_id, allowed_frame_ancestors)."""
    response = await api.post("/api/v1/organizations", json={"display_name": display_name, **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["organization"]["id"])


async def magic_link(api: httpx.AsyncClient, org_id: str, **body: object) -> dict:
    """The organization's magic link (the API's `link` object; its `location` is what a browser opens)."""
    response = await api.put(f"/api/v1/organizations/{org_id}/portal_links", json=body or None)
    assert response.status_code == 200, response.text
    return dict(response.json()["link"])


async def shareable_link(api: httpx.AsyncClient, org_id: str, **body: object) -> dict:
    """A new shareable link (`body` may set expires_in_seconds, return_url, success_url)."""
    response = await api.post(f"/api/v1/organizations/{org_id}/portal_links", json={"kind": "shareable", **body})
    assert response.status_code == 201, response.text
    return dict(response.json()["link"])


async def create_api_key(settings: Settings, name: str) -> tuple[str, str]:
    """(key id, the key itself) of a new management API key."""
    from link_issuer.accounts.admin import create_api_key as create

    return await create(settings, name)


async def revoke_api_key(settings: Settings, key_id: str) -> None:
    from link_issuer.accounts.admin import revoke_api_key as revoke

    await revoke(settings, key_id)
