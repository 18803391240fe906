"""examples/connections_mirror: from events alone it converges to what the management API shows."""
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from examples.connections_mirror.mirror import ConnectionsMirror
from portico_client import Portico
from portico_events import (
    TOPIC_CONNECTIONS,
    TOPIC_LINKS,
    CloudEvent,
    ConnectionCreated,
    ConnectionDeleted,
    ConnectionEnabled,
    ConnectionUpdated,
)
from shared.settings import Settings
from tests.fixtures.connection_tests import answer_at_loopback_idp
from tests.fixtures.identity_providers import saml_idp

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CONVERGE_TIMEOUT_S = 30


def connection_event(model: type, version: int, status: str, **extra: Any) -> CloudEvent:
    data = model(organization_id="org_1", connection_id="conn_1", connection_type="saml", provider="okta",
                 status=status, version=version, **extra)
    return CloudEvent.wrap(data, source="/tests", time=NOW)


def test_mirror_applies_each_event_once_and_never_goes_back_a_version(tmp_path: Path):
    mirror = ConnectionsMirror(tmp_path / "mirror.sqlite3")
    created = connection_event(ConnectionCreated, 1, "configured")
    updated = connection_event(ConnectionUpdated, 2, "configured", changed_fields=["saml.sso_url"])
    enabled = connection_event(ConnectionEnabled, 3, "enabled")
    assert [mirror.apply(e) for e in (created, updated, enabled)] == [True, True, True]
    assert mirror.apply(enabled) is False  # redelivered
    mirror.apply(connection_event(ConnectionUpdated, 2, "configured", changed_fields=["saml.certificates"]))  # replayed, older
    assert mirror.connections("org_1") == [{"id": "conn_1", "type": "saml", "provider": "okta", "status": "enabled",
                                            "version": 3, "changed_fields": []}]
    mirror.apply(connection_event(ConnectionDeleted, 4, "deleted"))
    mirror.apply(created)  # already seen, and older than the tombstone anyway
    assert mirror.connections("org_1") == []

    unknown = CloudEvent(id="evt_new", source="/future", type="portico.connection.renamed", time=NOW,
                         subject="org_1", dataversion=1, data={})
    assert mirror.apply(unknown) is False


async def commit_current_end(settings: Settings, group_id: str) -> None:
    """Give a new consumer group the topics' current ends, as if the mirror had been running until now
    (a new group would otherwise start from the oldest retained event: every test's history)."""
    consumer = AIOKafkaConsumer(TOPIC_LINKS, TOPIC_CONNECTIONS, bootstrap_servers=settings.kafka_bootstrap_servers,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    committer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group_id,
                                 enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign(partitions)
        await committer.commit(ends)
    finally:
        await committer.stop()


class MirrorProcess:
    """`python -m examples.connections_mirror` as an operator would run it; stopped by its own pid."""

    def __init__(self, database: Path, group_id: str, log: Path) -> None:
        self.args = [sys.executable, "-m", "examples.connections_mirror", "--database", str(database),
                     "--group-id", group_id]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
async def mirror_process(tmp_path: Path, settings: Settings) -> AsyncIterator[tuple[MirrorProcess, Path]]:
    group_id = f"portico-tests-mirror-{uuid.uuid4().hex[:12]}"
    await commit_current_end(settings, group_id)
    database = tmp_path / "mirror.sqlite3"
    process = MirrorProcess(database, group_id, tmp_path / "mirror.log")
    try:
        yield process, database
    finally:
        process.stop()


def mirrored(database: Path, organization_id: str) -> list[dict[str, Any]]:
    if not database.exists():
        return []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
        try:
            rows = db.execute("SELECT id, type, provider, status, version FROM connections"
                              " WHERE organization_id = ? AND status != 'deleted' ORDER BY id", (organization_id,)).fetchall()
        except sqlite3.OperationalError:  # the mirror has not created its tables yet
            return []
    return [dict(zip(("id", "type", "provider", "status", "version"), row, strict=True)) for row in rows]


def api_view(portico: Portico, organization_id: str) -> list[dict[str, Any]]:
    return sorted(
        (c.model_dump(include={"id", "type", "provider", "status", "version"}) for c in portico.connections.list(organization_id)),
        key=lambda c: c["id"],
    )


def converge(read: Callable[[], list[dict[str, Any]]], want: list[dict[str, Any]], log: Path) -> None:
    deadline = time.monotonic() + CONVERGE_TIMEOUT_S
    while (got := read()) != want and time.monotonic() < deadline:
        time.sleep(0.2)
    assert got == want, f"mirror {got} != API {want}; mirror log:\n{log.read_text()[-3000:]}"


def test_mirror_converges_to_the_management_api_after_a_portal_flow(
    mirror_process: tuple[MirrorProcess, Path], proxy_url: str, api_key: str, tmp_path: Path
):
    process, database = mirror_process
    process.start()
    with Portico(proxy_url, api_key) as portico:
        organization = portico.organizations.create("Mirror Co")
        location = portico.organizations.generate_portal_link(organization.id).location
        with httpx.Client(base_url=proxy_url, timeout=15) as browser, saml_idp() as idp:
            assert browser.get(location.removeprefix(proxy_url)).status_code == 303
            csrf = {"X-CSRF-Token": browser.get("/portal/api/session").json()["session"]["csrf_token"]}

            def create(body: dict[str, Any]) -> dict[str, Any]:
                answer = browser.post("/portal/api/connections", json=body, headers=csrf)
                assert answer.status_code == 201, answer.text
                return answer.json()["connection"]

            def act(method: str, path: str, version: int, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
                answer = browser.request(method, f"/portal/api/connections/{path}", json=body,
                                         headers={**csrf, "If-Match": f'"{version}"'})
                assert answer.status_code in (200, 204), answer.text
                return answer.json()["connection"] if answer.status_code == 200 else None

            def tested(connection: dict[str, Any]) -> None:
                """The admin's connection test at the loopback IdP, which Enable needs."""
                started = browser.post(f"/portal/api/connections/{connection['id']}/tests", headers=csrf)
                assert started.status_code == 201, started.text
                asyncio.run(answer_at_loopback_idp(started.json()["test"]["location"]))

            saml = create({"type": "saml", "provider": "okta", "saml": {"metadata_xml": idp.metadata()}})
            saml = act("PATCH", saml["id"], saml["version"], {"saml": {"attribute_mapping": {"groups": "memberOf"}}})
            assert saml is not None
            tested(saml)
            saml = act("POST", f"{saml['id']}/enable", saml["version"])
            assert saml is not None
            draft = create({"type": "oidc", "provider": "generic_oidc", "oidc": {"client_id": "mirror-app"}})
            doomed = create({"type": "saml", "provider": "entra_id", "saml": {"metadata_xml": idp.metadata()}})
            tested(doomed)
            for step in ("enable", "disable"):
                doomed = act("POST", f"{doomed['id']}/{step}", doomed["version"])
                assert doomed is not None
            act("DELETE", doomed["id"], doomed["version"])

            want = api_view(portico, organization.id)
            assert [(c["id"], c["status"]) for c in want] == sorted([(saml["id"], "enabled"), (draft["id"], "draft")])
            converge(lambda: mirrored(database, organization.id), want, process.log)

            # Stopped, it misses nothing: it resumes from the offsets it committed.
            process.stop()
            act("POST", f"{saml['id']}/disable", saml["version"])
            process.start()
            want = api_view(portico, organization.id)
            assert [c["status"] for c in want if c["id"] == saml["id"]] == ["disabled"]
            converge(lambda: mirrored(database, organization.id), want, process.log)
