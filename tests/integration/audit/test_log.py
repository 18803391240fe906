"""The audit log for real: Kafka into Postgres exactly once, append-only tables, verify, query, export, CLI."""
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker

from audit import store
from audit.app import writer_database_url
from audit.domain import entry_from_event
from portico_events import (
    Actor,
    CloudEvent,
    ConnectionCreated,
    ConnectionEnabled,
    ConnectionUpdated,
    ConnectionViewed,
    EventData,
    OrganizationCreated,
    PortalLinkIssued,
    PortalLinkRedeemed,
    PortalLinkRevoked,
    PortalSessionEnded,
    PortalSessionStarted,
)
from shared.broker import publish_event, publish_events
from shared.db import create_pool
from shared.ids import new_id
from shared.settings import Settings
from tests.integration.polling import eventually
from tests.integration.stack import ROOT

SOURCE = "/portico/tests/audit"
EXPORT_ROWS = 100_000


def wrap(data: EventData, at: datetime | None = None) -> CloudEvent:
    return CloudEvent.wrap(data, source=SOURCE, time=at or datetime.now(UTC))


def link_revoked(org: str, at: datetime | None = None) -> CloudEvent:
    return wrap(PortalLinkRevoked(organization_id=org, link_id=new_id("lnk")), at)


def connection_viewed(org: str, at: datetime | None = None) -> CloudEvent:
    return wrap(ConnectionViewed(organization_id=org, connection_id=new_id("conn")), at)


@pytest.fixture(scope="module")
def internal_headers(settings: Settings) -> dict[str, str]:
    return {
        "X-Portico-Internal-Token": settings.secret("internal_token"),
        "X-Portico-Actor": "api_key:key_audit_tests",
    }


@pytest.fixture
async def audit(settings: Settings, internal_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The audit service itself, called as the proxy would call it."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.audit_port}", headers=internal_headers, timeout=60
    ) as client:
        yield client


@pytest.fixture(scope="module")
async def writer_db(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(writer_database_url(settings), max_size=2)
    yield pool
    await pool.close()


async def count_for(audit_db: asyncpg.Pool, org: str) -> int:
    return await audit_db.fetchval("SELECT count(*) FROM audit_log WHERE organization_id = $1", org)


async def wait_for_count(audit_db: asyncpg.Pool, org: str, count: int, timeout_s: float = 20) -> int:
    return await eventually(lambda: count_for(audit_db, org), lambda n: n >= count, timeout_s)


async def append_directly(writer_db: asyncpg.Pool, events: list[CloudEvent], batch: int = 5000) -> None:
    """Fill the log without Kafka, through the same append the consumer uses."""
    async with writer_db.acquire() as conn:
        for start in range(0, len(events), batch):
            entries = [entry_from_event(e) for e in events[start:start + batch]]
            await store.append_audit_batch(conn, entries, datetime.now(UTC))


async def all_pages(audit: httpx.AsyncClient, limit: int, **params: str) -> list[dict]:
    events: list[dict] = []
    cursor = None
    for _ in range(1000):
        response = await audit.get("/api/v1/audit/events", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        events.extend(body["events"])
        cursor = body["next_cursor"]
        if cursor is None:
            return events
    raise AssertionError("the cursor never ended")


async def test_every_event_of_a_portal_flow_is_recorded_once_with_actor_and_target(
    kafka: KafkaBroker, audit_db: asyncpg.Pool, audit: httpx.AsyncClient
):
    org, link, session, connection = new_id("org"), new_id("lnk"), new_id("ses"), new_id("conn")
    backend = Actor(kind="api_key", id="key_backend", client_address="198.51.100.7", user_agent="billing/1.0")
    admin = Actor(kind="portal_session", id=session, client_address="203.0.113.9", user_agent="Mozilla/5.0")
    later = datetime.now(UTC) + timedelta(minutes=5)
    saml = {"connection_id": connection, "connection_type": "saml", "provider": "okta"}
    flow = [
        OrganizationCreated(organization_id=org, actor=backend, display_name="Acme"),
        PortalLinkIssued(organization_id=org, actor=backend, link_id=link, kind="magic", token_sha256="ab" * 32,
                         expire_time=later),
        PortalLinkRedeemed(organization_id=org, actor=admin, link_id=link, session_id=session),
        PortalSessionStarted(organization_id=org, actor=admin, session_id=session, link_id=link),
        ConnectionViewed(organization_id=org, actor=admin),
        ConnectionCreated(organization_id=org, actor=admin, status="draft", version=1, **saml),
        ConnectionUpdated(organization_id=org, actor=admin, status="configured", version=2,
                          changed_fields=["saml.metadata_xml"], **saml),
        ConnectionEnabled(organization_id=org, actor=admin, status="enabled", version=3, **saml),
        PortalSessionEnded(organization_id=org, actor=admin, session_id=session, link_id=link, reason="setup_completed"),
        PortalLinkRevoked(organization_id=org, actor=backend, link_id=link),
    ]
    events = [wrap(data) for data in flow]
    await publish_events(kafka, events)
    await publish_events(kafka, events[3:6])  # a producer retry: delivered twice

    assert await wait_for_count(audit_db, org, len(events)) == len(events)
    await asyncio.sleep(0.5)  # give the redelivered copies time to (not) land
    recorded = await all_pages(audit, 100, organization_id=org)
    # Each topic keeps an organization's order; across the three topics, arrival order decides.
    assert sorted(r["event_id"] for r in recorded) == sorted(e.id for e in events)
    assert [r["organization_sequence"] for r in recorded] == list(range(1, len(events) + 1))
    by_type = {r["type"]: r for r in recorded}
    assert by_type["portico.connection.updated"]["actor"] == {
        "kind": "portal_session", "id": session, "client_address": "203.0.113.9", "user_agent": "Mozilla/5.0"}
    assert by_type["portico.connection.updated"]["target"] == connection
    assert by_type["portico.portal_link.revoked"]["target"] == link
    assert by_type["portico.portal_session.started"]["target"] == session
    assert by_type["portico.organization.created"]["actor"]["id"] == "key_backend"
    assert by_type["portico.connection.updated"]["data"]["changed_fields"] == ["saml.metadata_xml"]

    report = (await audit.get("/api/v1/audit/verify", params={"organization_id": org})).json()
    assert report["ok"] is True
    assert report["checked"] == len(events)


async def test_changes_made_through_the_management_api_reach_the_log_once(
    api: httpx.AsyncClient, audit_db: asyncpg.Pool
):
    response = await api.post("/api/v1/organizations", json={"display_name": "Audited Inc."})
    assert response.status_code == 201, response.text
    org = response.json()["organization"]["id"]
    assert (await api.put(f"/api/v1/organizations/{org}/portal_links")).status_code == 200

    assert await wait_for_count(audit_db, org, 2) == 2
    rows = await audit_db.fetch(
        "SELECT event_type, actor_kind, target FROM audit_log WHERE organization_id = $1 ORDER BY sequence", org)
    assert [(r["event_type"], r["actor_kind"]) for r in rows] == [
        ("portico.organization.created", "api_key"), ("portico.portal_link.issued", "api_key")]


async def test_redelivered_batch_adds_nothing(kafka: KafkaBroker, audit_db: asyncpg.Pool):
    org = new_id("org")
    batch = [link_revoked(org) for _ in range(200)]
    await publish_events(kafka, batch)
    assert await wait_for_count(audit_db, org, 200) == 200

    marker = link_revoked(org)
    await publish_events(kafka, [*batch, marker])  # same key: the marker lands after every copy
    assert await eventually(
        lambda: audit_db.fetchval("SELECT count(*) FROM audit_log WHERE event_id = $1", marker.id), lambda n: n == 1
    ) == 1
    assert await count_for(audit_db, org) == 201


async def test_the_service_role_cannot_change_or_remove_records(writer_db: asyncpg.Pool, audit_db: asyncpg.Pool):
    org = new_id("org")
    await append_directly(writer_db, [link_revoked(org)])
    for statement in (
        f"UPDATE audit_log SET actor_id = 'someone' WHERE organization_id = '{org}'",
        f"DELETE FROM audit_log WHERE organization_id = '{org}'",
        "TRUNCATE audit_log",
        "DROP TABLE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await writer_db.execute(statement)
    assert await count_for(audit_db, org) == 1


async def test_even_the_owner_is_refused_update_delete_and_truncate(writer_db: asyncpg.Pool, audit_db: asyncpg.Pool):
    org = new_id("org")
    await append_directly(writer_db, [link_revoked(org)])
    for statement in (
        f"UPDATE audit_log SET actor_id = 'someone' WHERE organization_id = '{org}'",
        f"DELETE FROM audit_log WHERE organization_id = '{org}'",
        "TRUNCATE audit_log",
        "DELETE FROM audit_checkpoint",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await audit_db.execute(statement)
    assert await count_for(audit_db, org) == 1


async def tamper(audit_db: asyncpg.Pool, sequence: int, actor_id: str) -> None:
    """What a superuser (or the owner) could do: switch the trigger off around an UPDATE."""
    async with audit_db.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await conn.execute("UPDATE audit_log SET actor_id = $2 WHERE sequence = $1", sequence, actor_id)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_altered_record_makes_verify_fail_and_names_it(
    writer_db: asyncpg.Pool, audit_db: asyncpg.Pool, audit: httpx.AsyncClient
):
    org = new_id("org")
    await append_directly(writer_db, [connection_viewed(org) for _ in range(5)])
    victim = await audit_db.fetchrow(
        "SELECT sequence, event_id, actor_id FROM audit_log WHERE organization_id = $1 AND organization_sequence = 3", org)
    await tamper(audit_db, victim["sequence"], "someone_else")
    try:
        report = (await audit.get("/api/v1/audit/verify", params={"organization_id": org})).json()
        assert report["ok"] is False
        assert report["first_broken"]["sequence"] == victim["sequence"]
        assert report["first_broken"]["event_id"] == victim["event_id"]
        assert report["first_broken"]["reason"] == "hash_mismatch"
        assert report["checked"] == 3
    finally:
        await tamper(audit_db, victim["sequence"], victim["actor_id"])  # leave the shared log intact
    assert (await audit.get("/api/v1/audit/verify", params={"organization_id": org})).json()["ok"] is True


async def test_filters_and_cursor_return_each_record_once(
    writer_db: asyncpg.Pool, audit: httpx.AsyncClient
):
    org = new_id("org")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    events = [
        (connection_viewed if i % 3 else link_revoked)(org, start + timedelta(seconds=i)) for i in range(60)
    ]
    await append_directly(writer_db, events)

    everything = await all_pages(audit, 7, organization_id=org)
    assert [e["event_id"] for e in everything] == [e.id for e in events]

    revoked = await all_pages(audit, 4, organization_id=org, type="portico.portal_link.revoked")
    assert [e["event_id"] for e in revoked] == [e.id for e in events if e.type == "portico.portal_link.revoked"]

    since, until = start + timedelta(seconds=10), start + timedelta(seconds=20)
    window = await all_pages(audit, 3, organization_id=org, since=since.isoformat(), until=until.isoformat())
    assert [e["event_id"] for e in window] == [e.id for e in events[10:20]]


async def test_cursor_is_stable_while_the_log_grows(writer_db: asyncpg.Pool, audit: httpx.AsyncClient):
    org = new_id("org")
    first = [connection_viewed(org) for _ in range(10)]
    await append_directly(writer_db, first)
    page = (await audit.get("/api/v1/audit/events", params={"organization_id": org, "limit": 4})).json()
    later = [connection_viewed(org) for _ in range(5)]
    await append_directly(writer_db, later)

    seen = [e["event_id"] for e in page["events"]]
    cursor = page["next_cursor"]
    while cursor:
        page = (await audit.get("/api/v1/audit/events",
                                params={"organization_id": org, "limit": 4, "cursor": cursor})).json()
        seen.extend(e["event_id"] for e in page["events"])
        cursor = page["next_cursor"]
    assert seen == [e.id for e in first + later]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
    ],
)
async def test_bad_query_parameters_are_a_4xx_naming_the_field(audit: httpx.AsyncClient, params: dict, field: str):
    response = await audit.get("/api/v1/audit/events", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


async def test_bad_export_format_is_a_4xx(audit: httpx.AsyncClient):
    response = await audit.get("/api/v1/audit/export", params={"format": "xml"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "format"


async def test_reads_need_a_vouched_api_key_or_operator(settings: Settings, internal_headers: dict[str, str]):
    base = f"http://127.0.0.1:{settings.audit_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get("/api/v1/audit/events")).status_code == 401
        portal = {**internal_headers, "X-Portico-Actor": "portal_session:ses_1"}
        assert (await client.get("/api/v1/audit/events", headers=portal)).status_code == 403
        operator = {**internal_headers, "X-Portico-Actor": "operator:op_1"}
        assert (await client.get("/api/v1/audit/events", headers=operator, params={"limit": 1})).status_code == 200


async def test_the_api_is_served_through_the_proxy_with_an_api_key(api: httpx.AsyncClient, http: httpx.AsyncClient):
    assert (await http.get("/api/v1/audit/events")).status_code == 401
    response = await api.get("/api/v1/audit/events", params={"limit": 1})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"events", "next_cursor"}


async def test_export_is_the_same_records_as_jsonl_and_csv(writer_db: asyncpg.Pool, audit: httpx.AsyncClient):
    import csv
    import hashlib

    org = new_id("org")
    events = [connection_viewed(org) for _ in range(25)]
    await append_directly(writer_db, events)

    jsonl = await audit.get("/api/v1/audit/export", params={"format": "jsonl", "organization_id": org})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [r["event_id"] for r in lines] == [e.id for e in events]
    for line in lines:  # anyone can check an export offline: the hash covers the line without "hash"
        claimed = line.pop("hash")
        canonical = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        assert hashlib.sha256(canonical.encode()).hexdigest() == claimed

    exported = await audit.get("/api/v1/audit/export", params={"format": "csv", "organization_id": org})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(exported.text.splitlines()))
    assert [r["event_id"] for r in rows] == [e.id for e in events]
    assert json.loads(rows[0]["data"])["connection_id"] == events[0].data["connection_id"]


def service_rss_kib() -> int | None:
    pid_file = ROOT / ".run" / "pids" / "audit.pid"
    try:
        status = Path(f"/proc/{pid_file.read_text().strip()}/status").read_text()
    except OSError:
        return None
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))


async def test_export_of_100k_records_streams_with_flat_memory(writer_db: asyncpg.Pool, audit: httpx.AsyncClient):
    org = new_id("org")
    base = datetime.now(UTC)
    await append_directly(writer_db, [connection_viewed(org, base) for _ in range(EXPORT_ROWS)])

    baseline = service_rss_kib()
    peak = baseline or 0
    lines = size = 0
    async with audit.stream("GET", "/api/v1/audit/export",
                            params={"format": "jsonl", "organization_id": org}, timeout=300) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
            peak = max(peak, service_rss_kib() or 0)
    assert lines == EXPORT_ROWS
    if baseline is not None:  # the service is a local process we can look at
        growth_kib = peak - baseline
        assert growth_kib * 1024 < size / 4, f"audit grew by {growth_kib} KiB while exporting {size} bytes"
        assert growth_kib < 48 * 1024


def portico_cli(*args: str, api_key: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORTICO_API_KEY": api_key, "PORTICO_URL": url}
    return subprocess.run([sys.executable, "-m", "portico_cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


async def test_cli_lists_exports_and_verifies(
    writer_db: asyncpg.Pool, api_key: str, proxy_url: str, tmp_path: Path
):
    org = new_id("org")
    events = [connection_viewed(org) for _ in range(12)]
    await append_directly(writer_db, events)

    listed = portico_cli("--json", "audit", "events", "--organization-id", org, "--limit", "5", "--all",
                         api_key=api_key, url=proxy_url)
    assert listed.returncode == 0, listed.stderr
    assert [e["event_id"] for e in json.loads(listed.stdout)["events"]] == [e.id for e in events]

    table = portico_cli("audit", "events", "--organization-id", org, api_key=api_key, url=proxy_url)
    assert table.returncode == 0 and "SEQUENCE" in table.stdout.splitlines()[0]

    target = tmp_path / "audit.csv"
    exported = portico_cli("audit", "export", "--format", "csv", "--output", str(target), "--organization-id", org,
                           api_key=api_key, url=proxy_url)
    assert exported.returncode == 0, exported.stderr
    assert len(target.read_text().splitlines()) == 13
    assert "Exported 12 records" in exported.stdout

    verified = portico_cli("audit", "verify", "--organization-id", org, api_key=api_key, url=proxy_url)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("OK: 12 records")

    bad = portico_cli("audit", "events", "--cursor", "nope", api_key=api_key, url=proxy_url)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "cursor" in bad.stderr

    unreachable = portico_cli("audit", "verify", api_key=api_key, url="http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "cannot reach Portico" in unreachable.stderr


async def test_a_publish_is_recorded_within_a_second(kafka: KafkaBroker, audit_db: asyncpg.Pool):
    org = new_id("org")
    event = link_revoked(org)
    started = time.monotonic()
    await publish_event(kafka, event)
    assert await wait_for_count(audit_db, org, 1, timeout_s=5) == 1
    assert time.monotonic() - started < 1.0


async def test_a_batch_partly_recorded_already_appends_only_the_rest(writer_db: asyncpg.Pool, audit_db: asyncpg.Pool):
    org = new_id("org")
    events = [connection_viewed(org) for _ in range(30)]
    entries = [entry_from_event(e) for e in events]
    async with writer_db.acquire() as conn:
        first = await store.append_audit_batch(conn, entries[:10], datetime.now(UTC))
        again = await store.append_audit_batch(conn, entries + entries[:5], datetime.now(UTC))
        nothing = await store.append_audit_batch(conn, entries, datetime.now(UTC))
    assert (first.appended, again.appended, again.duplicates, nothing.appended) == (10, 20, 15, 0)
    rows = await audit_db.fetch(
        "SELECT event_id, organization_sequence FROM audit_log WHERE organization_id = $1 ORDER BY sequence", org)
    assert [r["event_id"] for r in rows] == [e.id for e in events]
    assert [r["organization_sequence"] for r in rows] == list(range(1, 31))
