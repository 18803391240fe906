"""The operator console's JSON API against the real stack through the proxy: sessions, CSRF, roles, links,
the audit log, API keys and operators, and every console action in the audit log with the operator as actor."""
import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from link_issuer.console.store import session_key
from shared.settings import Settings
from tests.integration.console import PASSWORD, Operator, create_account, forget_loopback_failures, sign_in, signed_in
from tests.integration.polling import eventually

JSON = {"Accept": "application/json"}


@pytest.fixture(autouse=True)
async def _clean_address_count(redis_client: Redis) -> None:
    await forget_loopback_failures(redis_client)


@pytest.fixture
async def support(settings: Settings) -> AsyncIterator[Operator]:
    operator = await signed_in(settings, "support")
    yield operator
    await operator.client.aclose()


@pytest.fixture
async def auditor(settings: Settings) -> AsyncIterator[Operator]:
    operator = await signed_in(settings, "auditor")
    yield operator
    await operator.client.aclose()


@pytest.fixture
async def admin_operator(settings: Settings) -> AsyncIterator[Operator]:
    operator = await signed_in(settings, "admin")
    yield operator
    await operator.client.aclose()


async def create_organization(operator: Operator, name: str = "Console Co") -> str:
    answer = await operator.client.post("/console/api/organizations", json={"display_name": name})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["organization"]["id"])


async def issue_link(operator: Operator, organization_id: str, kind: str, **extra: object) -> dict:
    answer = await operator.client.post(f"/console/api/organizations/{organization_id}/links", json={"kind": kind, **extra})
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["link"])


async def open_link(base_url: str, location: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as browser:
        return await browser.get(location.removeprefix(base_url), headers=JSON)


async def portal_session(base_url: str, redemption: httpx.Response) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, cookies=redemption.cookies) as browser:
        return await browser.get("/portal/api/session")


async def links_of(operator: Operator, organization_id: str) -> list[dict]:
    answer = await operator.client.get(f"/console/api/organizations/{organization_id}/links")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["links"])


async def test_sign_in_sets_a_lax_http_only_cookie_and_sign_out_ends_the_session_on_the_server(settings: Settings):
    _, email, password = await create_account(settings, "support")
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as client:
        answer = await sign_in(client, email, password)
        assert answer.status_code == 200
        body = answer.json()
        assert body["operator"]["email"] == email and body["operator"]["must_change_password"] is True
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("portico_console=") and "HttpOnly" in cookie and "Path=/console" in cookie
        assert "samesite=lax" in cookie.lower() and "Secure" not in cookie  # plain-HTTP loopback
        token = client.cookies["portico_console"]
        assert (await client.get("/console/api/session")).json()["csrf_token"] == body["csrf_token"]

        refused = await client.delete("/console/api/session")  # no CSRF token
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        ended = await client.delete("/console/api/session", headers={"X-CSRF-Token": body["csrf_token"]})
        assert ended.status_code == 204
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30, cookies={"portico_console": token}) as replay:
        gone = await replay.get("/console/api/session")
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "not_signed_in"


async def test_session_has_a_30_minute_idle_timer_a_12_hour_end_and_expires_on_the_server(
    support: Operator, redis_client: Redis
):
    key = session_key(support.cookie)
    assert 1700 < await redis_client.ttl(key) <= 1800
    started, ends = await redis_client.hmget(key, ["started_ms", "ends_ms"])
    assert int(ends) - int(started) == 12 * 3600 * 1000
    assert support.cookie not in key  # Redis holds the token's hash only

    await redis_client.hset(key, "ends_ms", int(started))  # the absolute end has passed
    expired = await support.client.get("/console/api/session")
    assert expired.status_code == 401 and not await redis_client.exists(key)


async def test_idle_session_expires(support: Operator, redis_client: Redis):
    await redis_client.pexpire(session_key(support.cookie), 1)
    await asyncio.sleep(0.05)
    assert (await support.client.get("/console/api/organizations")).status_code == 401


async def test_state_changes_without_the_csrf_token_are_refused_and_change_nothing(support: Operator):
    name = f"CSRF probe {time.time_ns()}"
    for headers in ({"X-CSRF-Token": ""}, {"X-CSRF-Token": "forged"}):
        answer = await support.client.post("/console/api/organizations", json={"display_name": name}, headers=headers)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "csrf_failed"
    found = await support.client.get("/console/api/organizations", params={"q": name})
    assert found.json()["organizations"] == []


async def test_support_generates_a_shareable_link_and_revoking_it_ends_its_portal_session(
    support: Operator, settings: Settings, api: httpx.AsyncClient
):
    organization_id = await create_organization(support)
    link = await issue_link(support, organization_id, "shareable", expires_in_seconds=3600)
    assert link["location"].startswith(f"{settings.public_url}/portal/l/") and link["kind"] == "shareable"
    redeemed = await open_link(settings.public_url, link["location"])
    assert redeemed.status_code == 303
    assert (await portal_session(settings.public_url, redeemed)).status_code == 200
    [listed] = await links_of(support, organization_id)
    assert (listed["id"], listed["state"], listed["created_by"]) == (link["id"], "live", support.email)
    assert "location" not in listed

    revoke = await support.client.delete(f"/console/api/organizations/{organization_id}/links/{link['id']}")
    assert revoke.status_code == 204
    revoked_at = time.monotonic()
    ended = await eventually(lambda: portal_session(settings.public_url, redeemed), lambda r: r.status_code == 401, 5)
    assert ended.status_code == 401 and time.monotonic() - revoked_at < 1.0
    assert [item["state"] for item in await links_of(support, organization_id)] == ["revoked"]
    # The management API reads the same links through the same code.
    via_api = (await api.get(f"/api/v1/organizations/{organization_id}/portal_links")).json()["links"]
    assert [(item["id"], item["state"], item["revoked"]) for item in via_api] == [(link["id"], "revoked", True)]


async def test_magic_link_reads_used_once_redeemed_in_the_console_and_the_api(
    support: Operator, settings: Settings, api: httpx.AsyncClient
):
    organization_id = await create_organization(support)
    link = await issue_link(support, organization_id, "magic")
    assert (await open_link(settings.public_url, link["location"])).status_code == 303
    states = await eventually(lambda: links_of(support, organization_id), lambda found: found[0]["state"] == "used")
    assert states[0]["state"] == "used"
    via_api = (await api.get(f"/api/v1/organizations/{organization_id}/portal_links")).json()["links"]
    assert via_api[0]["state"] == "used"


async def test_organizations_are_searched_by_name_or_external_id_and_paged(support: Operator):
    marker = f"pager{time.time_ns()}"
    created = []
    for index in range(3):
        answer = await support.client.post(
            "/console/api/organizations", json={"display_name": f"{marker} Co {index}", "external_id": f"{marker}-{index}"}
        )
        created.append(answer.json()["organization"]["id"])
    first = (await support.client.get("/console/api/organizations", params={"q": marker.upper(), "limit": 2})).json()
    assert [o["id"] for o in first["organizations"]] == created[::-1][:2] and first["next_cursor"]
    rest = (await support.client.get("/console/api/organizations",
                                     params={"q": marker, "limit": 2, "cursor": first["next_cursor"]})).json()
    assert [o["id"] for o in rest["organizations"]] == [created[0]] and rest["next_cursor"] is None
    by_external = (await support.client.get("/console/api/organizations", params={"q": f"{marker}-1"})).json()
    assert [o["id"] for o in by_external["organizations"]] == [created[1]]


async def test_unknown_organization_and_another_organizations_link_are_404(support: Operator):
    mine, theirs = await create_organization(support), await create_organization(support)
    their_link = await issue_link(support, theirs, "shareable")
    for path in (f"/console/api/organizations/{mine}/links/{their_link['id']}",
                 "/console/api/organizations/org_doesnotexist/links/lnk_x"):
        assert (await support.client.delete(path)).status_code == 404
    assert (await support.client.get("/console/api/organizations/org_doesnotexist/connections")).status_code == 404
    assert (await support.client.get(f"/console/api/organizations/{mine}/connections")).json() == {"connections": []}


async def test_auditor_gets_403_on_organizations_links_and_admin_routes(auditor: Operator, support: Operator):
    organization_id = await create_organization(support)
    calls = [
        ("GET", "/console/api/organizations"),
        ("POST", f"/console/api/organizations/{organization_id}/links"),
        ("GET", f"/console/api/organizations/{organization_id}/links"),
        ("DELETE", f"/console/api/organizations/{organization_id}/links/lnk_x"),
        ("GET", "/console/api/api-keys"),
        ("GET", "/console/api/operators"),
    ]
    for method, path in calls:
        answer = await auditor.client.request(method, path, json={"kind": "magic"} if method == "POST" else None)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden", (method, path)
    denied = await support.client.get("/console/api/audit/events")
    assert denied.status_code == 403


async def test_auditor_lists_verifies_and_exports_csv_rows_matching_the_api(
    auditor: Operator, support: Operator, api: httpx.AsyncClient
):
    organization_id = await create_organization(support)
    link = await issue_link(support, organization_id, "shareable")
    await support.client.delete(f"/console/api/organizations/{organization_id}/links/{link['id']}")
    params = {"organization_id": organization_id}

    async def recorded() -> list[dict]:
        return list((await auditor.client.get("/console/api/audit/events", params=params)).json()["events"])

    events = await eventually(recorded, lambda found: len(found) >= 3)
    assert [e["type"] for e in events] == [
        "portico.organization.created", "portico.portal_link.issued", "portico.portal_link.revoked"]
    assert {(e["actor"]["kind"], e["actor"]["id"]) for e in events} == {("operator", support.id)}
    assert all(e["actor"]["client_address"] == "127.0.0.1" for e in events)
    by_actor = (await auditor.client.get("/console/api/audit/events",
                                         params={**params, "actor": f"operator:{support.id}"})).json()["events"]
    assert len(by_actor) == 3

    verified = await auditor.client.get("/console/api/audit/verify", params=params)
    assert verified.status_code == 200 and verified.json()["ok"] is True and verified.json()["checked"] == 3

    exported = await auditor.client.get("/console/api/audit/export", params={**params, "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    from_api = (await api.get("/api/v1/audit/events", params=params)).json()["events"]
    assert [(r["event_id"], r["hash"]) for r in rows] == [(e["event_id"], e["hash"]) for e in from_api]
    jsonl = await auditor.client.get("/console/api/audit/export", params={**params, "format": "jsonl"})
    assert len(jsonl.text.splitlines()) == 3


async def test_admin_manages_api_keys_and_operators(admin_operator: Operator, settings: Settings):
    client = admin_operator.client
    made = await client.post("/console/api/api-keys", json={"name": "console test"})
    assert made.status_code == 201
    key, key_id = made.json()["key"], made.json()["api_key"]["id"]
    async with httpx.AsyncClient(base_url=settings.public_url, headers={"Authorization": f"Bearer {key}"}) as backend:
        assert (await backend.post("/api/v1/organizations", json={"display_name": "Keyed"})).status_code == 201
        listed = (await client.get("/console/api/api-keys")).json()["api_keys"]
        assert any(k["id"] == key_id and k["revoked_at"] is None for k in listed)
        assert key.split(".")[1] not in str(listed)
        assert (await client.delete(f"/console/api/api-keys/{key_id}")).status_code == 204
        assert (await backend.post("/api/v1/organizations", json={"display_name": "Keyed"})).status_code == 401
    assert (await client.delete("/console/api/api-keys/key_doesnotexist")).status_code == 404

    created = await client.post("/console/api/operators", json={"email": f"New-{time.time_ns()}@Example.com", "role": "auditor"})
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["operator"]["role"] == "auditor" and new["operator"]["must_change_password"] is True
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as newcomer:
        assert (await sign_in(newcomer, new["operator"]["email"], new["one_time_password"])).status_code == 200
        reset = await client.post(f"/console/api/operators/{new['operator']['id']}/reset-password")
        assert reset.status_code == 200 and reset.json()["one_time_password"] != new["one_time_password"]
        assert (await newcomer.get("/console/api/session")).status_code == 401
        assert (await sign_in(newcomer, new["operator"]["email"], reset.json()["one_time_password"])).status_code == 200
        assert (await client.post(f"/console/api/operators/{new['operator']['id']}/disable")).status_code == 204
        assert (await newcomer.get("/console/api/session")).status_code == 401
    duplicate = await client.post("/console/api/operators", json={"email": new["operator"]["email"], "role": "support"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "email_taken"
    bad_role = await client.post("/console/api/operators", json={"email": "x@example.com", "role": "root"})
    assert bad_role.status_code == 422 and bad_role.json()["error"]["field"] == "role"
    listed = (await client.get("/console/api/operators")).json()["operators"]
    assert next(o for o in listed if o["id"] == new["operator"]["id"])["disabled"] is True
    self_disable = await client.post(f"/console/api/operators/{admin_operator.id}/disable")
    assert self_disable.status_code == 422


async def test_every_console_action_is_audited_with_the_operator_as_actor(
    settings: Settings, api: httpx.AsyncClient
):
    operator_id, email, one_time = await create_account(settings, "admin")
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as client:
        assert (await sign_in(client, email, "not the password")).status_code == 401
        csrf = (await sign_in(client, email, one_time)).json()["csrf_token"]
        client.headers["X-CSRF-Token"] = csrf
        changed = await client.post("/console/api/password", json={"current_password": one_time, "new_password": PASSWORD})
        client.headers["X-CSRF-Token"] = changed.json()["csrf_token"]
        me = Operator(operator_id, email, client)
        organization_id = await create_organization(me)
        link = await issue_link(me, organization_id, "shareable")
        await client.delete(f"/console/api/organizations/{organization_id}/links/{link['id']}")
        key_id = (await client.post("/console/api/api-keys", json={"name": "audited"})).json()["api_key"]["id"]
        await client.delete(f"/console/api/api-keys/{key_id}")
        other = (await client.post("/console/api/operators", json={"email": f"o-{time.time_ns()}@example.com",
                                                                    "role": "support"})).json()["operator"]["id"]
        await client.post(f"/console/api/operators/{other}/reset-password")
        await client.post(f"/console/api/operators/{other}/disable")
        await client.get("/console/api/audit/verify", params={"organization_id": organization_id})
        await client.get("/console/api/audit/export", params={"organization_id": organization_id, "format": "csv"})
        assert (await client.delete("/console/api/session")).status_code == 204

    expected = {
        "portico.operator.sign_in_failed", "portico.operator.signed_in", "portico.operator.password_changed",
        "portico.organization.created", "portico.portal_link.issued", "portico.portal_link.revoked",
        "portico.api_key.created", "portico.api_key.revoked", "portico.operator.created",
        "portico.operator.password_reset", "portico.operator.disabled", "portico.audit_log.verified",
        "portico.audit_log.exported", "portico.operator.signed_out",
    }

    async def recorded() -> list[dict]:
        answer = await api.get("/api/v1/audit/events", params={"actor": f"operator:{operator_id}", "limit": 100})
        return list(answer.json()["events"])

    events = await eventually(recorded, lambda found: {e["type"] for e in found} >= expected, timeout_s=20)
    assert {e["type"] for e in events} == expected
    failed = next(e for e in events if e["type"] == "portico.operator.sign_in_failed")
    assert failed["data"]["email"] == email and failed["organization_id"] == "portico"
    assert "not the password" not in str(events) and PASSWORD not in str(events)
    assert all(e["actor"]["client_address"] == "127.0.0.1" for e in events)
    assert next(e for e in events if e["type"] == "portico.operator.created")["target"] == other



async def test_changing_the_password_ends_the_operators_other_sessions_and_keeps_this_one(settings: Settings):
    operator_id, email, one_time = await create_account(settings, "support")
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as here, \
            httpx.AsyncClient(base_url=settings.public_url, timeout=30) as elsewhere:
        first = (await sign_in(here, email, one_time)).json()
        assert (await sign_in(elsewhere, email, one_time)).status_code == 200
        old_cookie = here.cookies["portico_console"]
        changed = await here.post("/console/api/password", headers={"X-CSRF-Token": first["csrf_token"]},
                                  json={"current_password": one_time, "new_password": PASSWORD})
        assert changed.status_code == 200, changed.text
        renewed = changed.json()["operator"]
        assert (renewed["id"], renewed["must_change_password"]) == (operator_id, False)
        assert here.cookies["portico_console"] != old_cookie
        assert (await elsewhere.get("/console/api/session")).status_code == 401
        assert (await here.get("/console/api/session")).json()["csrf_token"] == changed.json()["csrf_token"]
        listed = await here.get("/console/api/organizations", params={"limit": 1})
        assert listed.status_code == 200, listed.text
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30, cookies={"portico_console": old_cookie}) as stale:
        assert (await stale.get("/console/api/session")).status_code == 401
