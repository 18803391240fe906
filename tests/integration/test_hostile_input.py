"""Crafted input through the running stack: refused with a 4xx JSON error or made harmless, never a 500."""
import base64
import csv
import io
import json
import time

import httpx
import pytest
from redis.asyncio import Redis

from connection_config.connections import ConnectionService
from connection_config.model import ConnectionProblem
from connection_config.outbound import Fetcher, OutboundPolicy
from connection_config.schemas import CreateConnection
from connection_config.secretbox import Keyring
from portal_session.store import failures_key
from portico_events import Actor
from shared.db import create_pool
from shared.ids import SystemClock, new_id
from shared.settings import Settings
from tests.fixtures.identity_providers import Route, loopback_server, make_certificate, pem
from tests.integration.console import forget_loopback_failures, signed_in
from tests.integration.polling import eventually

FORMULA = '=HYPERLINK("http://x","click")'


async def test_csv_export_shows_a_formula_a_caller_planted_as_text(api: httpx.AsyncClient):
    created = await api.post("/api/v1/organizations", json={"display_name": FORMULA}, headers={"User-Agent": FORMULA})
    assert created.status_code == 201, created.text
    org_id = created.json()["organization"]["id"]

    async def exported_rows() -> list[dict[str, str]]:
        answer = await api.get("/api/v1/audit/export", params={"format": "csv", "organization_id": org_id})
        assert answer.status_code == 200, answer.text
        return list(csv.DictReader(io.StringIO(answer.text)))

    rows = await eventually(exported_rows, lambda rows: any(r["type"] == "portico.organization.created" for r in rows))
    [row] = [r for r in rows if r["type"] == "portico.organization.created"]
    assert row["user_agent"] == f"'{FORMULA}"
    assert '"display_name":"=HYPERLINK' in row["data"]  # inside JSON, so never at the start of a cell

    jsonl = await api.get("/api/v1/audit/export", params={"format": "jsonl", "organization_id": org_id})
    records = [json.loads(line) for line in jsonl.text.splitlines()]
    created_record = next(r for r in records if r["type"] == "portico.organization.created")
    assert created_record["actor"]["user_agent"] == FORMULA  # JSONL keeps every value exactly as hashed


@pytest.mark.parametrize("injected", [
    "https://app.example.com *",
    "https://*.example.com",
    "https://app.example.com;script-src *",
    "https://app.example.com,evil.example",
    "https://app.example.com:99999",
])
async def test_frame_ancestor_that_would_inject_into_the_portal_csp_is_refused_naming_the_entry(
    api: httpx.AsyncClient, injected: str
):
    external_id = f"csp-{time.time_ns()}"
    refused = await api.post("/api/v1/organizations", json={
        "display_name": "CSP Co", "external_id": external_id,
        "allowed_frame_ancestors": ["https://app.example.com", injected],
    })
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_origin"
    assert refused.json()["error"]["field"] == "allowed_frame_ancestors.1"
    # nothing was half-written: the same external_id is still free
    created = await api.post("/api/v1/organizations", json={
        "display_name": "CSP Co", "external_id": external_id, "allowed_frame_ancestors": ["https://app.example.com"],
    })
    assert created.status_code == 201, created.text


async def test_console_refuses_the_same_frame_ancestor_naming_the_entry(settings: Settings, redis_client: Redis):
    await forget_loopback_failures(redis_client)
    operator = await signed_in(settings, "support")
    try:
        refused = await operator.client.post("/console/api/organizations", json={
            "display_name": "CSP Co", "allowed_frame_ancestors": ["https://app.example.com;script-src *"],
        })
    finally:
        await operator.client.aclose()
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "allowed_frame_ancestors.0"


async def test_link_with_a_non_ascii_signature_is_an_unknown_link_through_the_proxy(http: httpx.AsyncClient,
                                                                                      redis_client: Redis):
    await redis_client.delete(failures_key("127.0.0.1"))  # earlier guesses from loopback must not make this a 429
    answer = await http.get("/portal/l/v1.a.%C3%A9", headers={"Accept": "application/json"})
    assert answer.status_code == 410, answer.text
    assert answer.json()["error"]["code"] == "link_invalid"


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "\u00b2"}, "limit"),
    ({"limit": "\u0663"}, "limit"),  # int() would have read it as 3
    ({"limit": "1" * 5000}, "limit"),
    ({"cursor": "YWZ0ZXI6\u00b2"}, "cursor"),
    ({"cursor": base64.urlsafe_b64encode(b"after:" + b"1" * 5000).decode().rstrip("=")}, "cursor"),
])
async def test_audit_numbers_in_other_digits_or_too_long_are_a_400_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, str], field: str
):
    answer = await api.get("/api/v1/audit/events", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["field"] == field


async def test_connection_if_match_in_other_digits_is_a_400_and_changes_nothing(settings: Settings):
    organization_id = new_id("org")
    headers = {
        "X-Portico-Internal-Token": settings.secret("internal_token"), "X-Portico-Actor": "portal_session:ses_tests",
        "X-Portico-Organization": organization_id,
    }
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.connection_config_port}", timeout=15) as service:
        created = await service.post("/internal/portal/connections", headers=headers, json={
            "type": "saml", "provider": "okta", "saml": {
                "idp_entity_id": "http://www.okta.com/exk1", "sso_url": "https://acme.okta.com/app/sso/saml",
                "certificates": [pem(make_certificate())]}})
        assert created.status_code == 201, created.text
        path = f"/internal/portal/connections/{created.json()['connection']['id']}"
        for tag in (b'"\xb2"', '"\u0661"'.encode()):  # superscript two, Arabic-Indic one
            patched = await service.patch(path, json={"saml": {"sso_url": "https://acme.okta.com/app/sso/v2"}},
                                          headers={**headers, "If-Match": tag})
            assert patched.status_code == 400, patched.text
            assert patched.json()["error"]["code"] == "invalid_if_match"
        assert (await service.get(path, headers=headers)).headers["etag"] == '"1"'


async def test_oidc_discovery_document_nested_too_deeply_is_a_422_on_the_issuer_and_saves_nothing(settings: Settings):
    organization_id = new_id("org")
    pool = await create_pool(settings.connection_config_database_url.get_secret_value(), max_size=2)
    try:
        with loopback_server() as idp:
            idp.routes["/.well-known/openid-configuration"] = Route(
                body=b"[" * 100_000 + b"]" * 100_000, headers={"Content-Type": "application/json"})
            # A service instance like the running one, whose allow-list admits this test's loopback IdP.
            connections = ConnectionService(
                pool=lambda: pool, keyring=Keyring.from_setting(settings.secret("encryption_keys")),
                fetcher=Fetcher(OutboundPolicy.from_setting(idp.host_port)), clock=SystemClock(),
                public_url=settings.public_url,
            )
            with pytest.raises(ConnectionProblem) as refused:
                await connections.create(organization_id, Actor(kind="portal_session", id="ses_tests"),
                                         CreateConnection.model_validate({"type": "oidc", "provider": "okta", "oidc": {
                                             "issuer": idp.url(), "client_id": "0oa1client", "client_secret": "s3cret"}}))
            assert idp.requests == ["/.well-known/openid-configuration"]
        assert (refused.value.status, refused.value.field) == (422, "oidc.issuer")
        assert "nest too deeply" in refused.value.message
        assert await pool.fetchval("SELECT count(*) FROM connections WHERE organization_id = $1", organization_id) == 0
    finally:
        await pool.close()
