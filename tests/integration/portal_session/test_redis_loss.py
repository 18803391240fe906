"""Postgres (link-issuer) is the truth about a link and Redis only its fast path: after Redis loses its data
(FLUSHALL, a restart without persistence, a failover to an empty replica) a revoked link stays revoked, a
used magic link stays used, sessions of a revoked link stay ended, and revocation still takes < 1 s."""
import asyncio
import time

import httpx
import pytest
from redis.asyncio import Redis

from tests.factories import create_organization, magic_link, shareable_link
from tests.integration.link_issuer.test_portal_links import link_path, open_link, session_of
from tests.integration.polling import eventually

JSON = {"Accept": "application/json"}


async def lose_redis_data(redis_client: Redis) -> None:
    """Everything Redis held is gone at once (the services write again right after: leases, new events)."""
    assert await redis_client.flushall()


async def revoke(api: httpx.AsyncClient, org_id: str, link: dict) -> None:
    response = await api.delete(f"/api/v1/organizations/{org_id}/portal_links/{link['id']}")
    assert response.status_code == 204


async def test_a_used_magic_link_stays_used_when_redis_loses_its_data_right_after(
    api: httpx.AsyncClient, proxy_url: str, redis_client: Redis
):
    org_id = await create_organization(api)
    link = await magic_link(api, org_id)
    assert (await open_link(proxy_url, link)).status_code == 303
    await lose_redis_data(redis_client)  # at once: nothing had time to travel through Kafka
    again = await open_link(proxy_url, link)
    assert again.status_code == 410 and again.json()["error"]["code"] == "link_used"
    listed = (await api.get(f"/api/v1/organizations/{org_id}/portal_links")).json()["links"]
    assert [(item["id"], item["state"]) for item in listed] == [(link["id"], "used")]


async def test_a_revoked_shareable_link_stays_revoked_and_its_sessions_ended_after_redis_loses_its_data(
    api: httpx.AsyncClient, proxy_url: str, redis_client: Redis
):
    org_id = await create_organization(api)
    link = await shareable_link(api, org_id)
    opened = await open_link(proxy_url, link)
    assert opened.status_code == 303
    await revoke(api, org_id, link)
    await lose_redis_data(redis_client)
    started = time.monotonic()
    refused = await open_link(proxy_url, link)
    assert refused.status_code == 410 and refused.json()["error"]["code"] == "link_revoked"
    assert time.monotonic() - started < 1.0
    assert (await session_of(proxy_url, opened)).status_code == 401
    # The refusal is remembered in Redis again: the next attempt does not need link-issuer.
    assert await redis_client.hget(f"portico:ps:link:{link['id']}", "state") == b"revoked"
    assert (await open_link(proxy_url, link)).json()["error"]["code"] == "link_revoked"


async def test_links_still_open_after_redis_loses_its_data_and_revocation_still_takes_under_a_second(
    api: httpx.AsyncClient, proxy_url: str, redis_client: Redis
):
    org_id = await create_organization(api)
    shareable, magic = await shareable_link(api, org_id), await magic_link(api, org_id)
    await lose_redis_data(redis_client)
    first, second = await open_link(proxy_url, shareable), await open_link(proxy_url, shareable)
    assert (first.status_code, second.status_code) == (303, 303)
    assert (await open_link(proxy_url, magic)).status_code == 303
    assert (await open_link(proxy_url, magic)).json()["error"]["code"] == "link_used"

    await revoke(api, org_id, shareable)
    revoked_at = time.monotonic()
    ended = await eventually(
        lambda: asyncio.gather(session_of(proxy_url, first), session_of(proxy_url, second), open_link(proxy_url, shareable)),
        lambda answers: [a.status_code for a in answers] == [401, 401, 410],
        timeout_s=5,
    )
    assert [a.status_code for a in ended] == [401, 401, 410]
    assert time.monotonic() - revoked_at < 1.0


async def test_a_magic_link_opened_by_many_browsers_at_once_after_redis_lost_its_data_opens_one_session(
    api: httpx.AsyncClient, proxy_url: str, redis_client: Redis
):
    link = await magic_link(api, await create_organization(api))
    await lose_redis_data(redis_client)
    answers = await asyncio.gather(*(open_link(proxy_url, link) for _ in range(12)))
    assert sorted(a.status_code for a in answers) == [303] + [410] * 11


@pytest.mark.parametrize("kind", ["magic", "shareable"])
async def test_a_link_redis_has_not_heard_of_yet_is_checked_with_link_issuer_and_carries_its_urls(
    api: httpx.AsyncClient, proxy_url: str, redis_client: Redis, kind: str
):
    org_id = await create_organization(api)
    urls = {"return_url": f"{proxy_url}/back", "success_url": f"{proxy_url}/done"}
    link = await (magic_link(api, org_id, **urls) if kind == "magic" else shareable_link(api, org_id, **urls))
    await redis_client.delete(f"portico:ps:link:{link['id']}")  # as if its issued event had not arrived
    opened = await open_link(proxy_url, link)
    assert opened.status_code == 303
    session = (await session_of(proxy_url, opened)).json()["session"]
    assert (session["return_url"], session["success_url"]) == (urls["return_url"], urls["success_url"])
    assert link_path(link).startswith("/portal/l/")
