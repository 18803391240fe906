"""connection-config for real: its internal portal API (as portal-session calls it), the management list through the
proxy, public SP metadata, events on Kafka, secrets encrypted in Postgres. Outbound targets are loopback only."""
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from saml2.md import entity_descriptor_from_string

import connection_config
from connection_config.connections import ConnectionService
from connection_config.outbound import Fetcher, OutboundPolicy
from connection_config.schemas import CreateConnection
from connection_config.secretbox import Keyring
from portico_events import TOPIC_CONNECTIONS, Actor
from shared import outbox
from shared.broker import make_broker
from shared.db import apply_migrations, create_pool
from shared.ids import SystemClock, new_id
from shared.outbox import OutboxRelay
from shared.settings import Settings
from tests.factories import create_organization
from tests.fixtures.connection_tests import answer_at_loopback_idp
from tests.fixtures.identity_providers import (
    Route,
    discovery_document,
    expired_certificate,
    fingerprint,
    loopback_server,
    make_certificate,
    pem,
    saml_idp,
    vendor_metadata,
)
from tests.integration.kafka_tap import KafkaTap
from tests.integration.polling import eventually

MIGRATIONS = Path(connection_config.__file__).parent / "migrations"
SECRET = "Q2xpZW50LXNlY3JldC1mb3ItcG9ydGljby10ZXN0cw-9f3e"


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """connection-config itself, called the way portal-session and the proxy call it."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.connection_config_port}", timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
async def connections_db(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.connection_config_database_url.get_secret_value(), max_size=4)
    yield pool
    await pool.close()


def portal(settings: Settings, organization_id: str, session_id: str = "ses_tests") -> dict[str, str]:
    return {
        "X-Portico-Internal-Token": settings.secret("internal_token"),
        "X-Portico-Actor": f"portal_session:{session_id}",
        "X-Portico-Organization": organization_id,
        "X-Portico-Client-Address": "203.0.113.7",
        "X-Portico-User-Agent": "pytest",
    }


def saml_fields() -> dict[str, object]:
    return {"type": "saml", "provider": "okta", "saml": {
        "idp_entity_id": "http://www.okta.com/exk1", "sso_url": "https://acme.okta.com/app/sso/saml",
        "certificates": [pem(make_certificate())]}}


async def create(service: httpx.AsyncClient, settings: Settings, organization_id: str, body: object) -> httpx.Response:
    return await service.post("/internal/portal/connections", json=body, headers=portal(settings, organization_id))


async def count_connections(db: asyncpg.Pool, organization_id: str) -> int:
    return await db.fetchval("SELECT count(*) FROM connections WHERE organization_id = $1", organization_id)


@pytest.mark.parametrize("vendor", ["okta", "entra_id", "google_workspace"])
async def test_saml_connection_from_vendor_metadata_is_created_with_sp_values(service, settings, vendor):
    organization_id = new_id("org")
    cert = make_certificate()
    response = await create(service, settings, organization_id,
                            {"type": "saml", "provider": vendor, "saml": {"metadata_xml": vendor_metadata(vendor, cert)}})
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    connection = response.json()["connection"]
    assert connection["id"].startswith("conn_")
    assert (connection["organization_id"], connection["status"], connection["version"]) == (organization_id, "configured", 1)
    assert connection["updated_by"] == "portal_session:ses_tests"
    base = f"{settings.public_url}/sso/saml/{connection['id']}"
    assert connection["sp"] == {"entity_id": base, "acs_url": f"{base}/acs", "metadata_url": f"{base}/metadata"}
    assert fingerprint(cert) in [c["fingerprint_sha256"] for c in connection["saml"]["certificates"]]
    assert connection["saml"]["sso_url"].startswith("https://")


async def test_every_change_is_versioned_and_published(service, settings, connections_db):
    organization_id = new_id("org")
    headers = portal(settings, organization_id)
    with saml_idp() as idp:
        async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_CONNECTIONS) as tap:
            created = (await create(service, settings, organization_id, {
                "type": "saml", "provider": "okta", "saml": {"metadata_xml": idp.metadata()}})).json()["connection"]
            path = f"/internal/portal/connections/{created['id']}"
            assert (await service.get(path, headers=headers)).headers["etag"] == '"1"'
            patched = await service.patch(path, json={"saml": {"attribute_mapping": {"groups": "memberOf"}}},
                                          headers={**headers, "If-Match": '"1"'})
            assert patched.status_code == 200, patched.text
            assert (patched.json()["connection"]["version"], patched.headers["etag"]) == (2, '"2"')
            untested = await service.post(f"{path}/enable", headers=headers)
            assert (untested.status_code, untested.json()["error"]["code"]) == (409, "connection_not_tested")
            test = (await service.post(f"{path}/tests", headers=headers)).json()["test"]
            await answer_at_loopback_idp(test["location"])
            assert (await service.get(f"{path}/tests/{test['id']}", headers=headers)).json()["test"]["status"] == "succeeded"
            enabled = await service.post(f"{path}/enable", headers=headers)
            assert enabled.json()["connection"]["status"] == "enabled"
            disabled = await service.post(f"{path}/disable", headers={**headers, "If-Match": "3"})
            assert (disabled.json()["connection"]["status"], disabled.json()["connection"]["version"]) == ("disabled", 4)
            assert (await service.delete(path, headers=headers)).status_code == 204
            assert (await service.get(path, headers=headers)).status_code == 404

            wanted = ["created", "viewed", "updated", "test_succeeded", "enabled", "disabled", "deleted"]
            events = await tap.wait_for(lambda e: e.subject == organization_id, count=len(wanted))
    assert [e.type.removeprefix("portico.connection.") for e in events] == wanted
    assert events[2].data["changed_fields"] == ["saml.attribute_mapping.groups"]
    assert (events[3].data["version"], events[3].data["attempt_id"]) == (2, test["id"])
    changes = [e for e in events if e.type not in ("portico.connection.viewed", "portico.connection.test_succeeded")]
    assert [e.data.get("version") for e in changes] == [1, 2, 3, 4, 5]
    assert events[0].data["actor"] == {"kind": "portal_session", "id": "ses_tests", "client_address": "203.0.113.7",
                                       "user_agent": "pytest"}
    history = await connections_db.fetch(
        "SELECT version, action, changed_by, changes FROM connection_versions WHERE connection_id = $1 ORDER BY version",
        created["id"])
    assert [row["action"] for row in history] == ["created", "updated", "enabled", "disabled", "deleted"]
    assert json.loads(history[1]["changes"]) == [{"field": "saml.attribute_mapping.groups", "old": "groups", "new": "memberOf"}]


async def test_stale_if_match_is_412_with_the_current_version_and_missing_is_428(service, settings):
    organization_id = new_id("org")
    headers = portal(settings, organization_id)
    created = (await create(service, settings, organization_id, saml_fields())).json()["connection"]
    path = f"/internal/portal/connections/{created['id']}"
    first = await service.patch(path, json={"provider": "generic_saml"}, headers={**headers, "If-Match": '"1"'})
    assert first.status_code == 200
    stale = await service.patch(path, json={"provider": "okta"}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "version_mismatch"
    assert stale.json()["error"]["current_version"] == 2
    missing = await service.patch(path, json={"provider": "okta"}, headers=headers)
    assert missing.status_code == 428
    current = await service.get(path, headers=headers)
    assert current.json()["connection"]["provider"] == "generic_saml"


def _hostile_documents() -> dict[str, str]:
    okta = vendor_metadata("okta", make_certificate())
    start, end = okta.index("<md:KeyDescriptor"), okta.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return {
        "xxe": '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        "billion_laughs": f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{laughs}]><r>&l9;</r>',
        "oversized": okta.replace("</md:EntityDescriptor>", "<!--" + "x" * 1_100_000 + "--></md:EntityDescriptor>"),
        "not_xml": "this is not metadata",
        "wrong_root": '<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
        "no_certificate": okta[:start] + okta[end:],
        "expired_certificate": vendor_metadata("okta", expired_certificate()),
    }


@pytest.mark.parametrize("kind", list(_hostile_documents()))
async def test_hostile_or_broken_metadata_is_a_4xx_that_changes_nothing(service, settings, connections_db, kind):
    organization_id = new_id("org")
    document = _hostile_documents()[kind]
    response = await create(service, settings, organization_id,
                            {"type": "saml", "provider": "okta", "saml": {"metadata_xml": document}})
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["field"] == "saml.metadata_xml"
    assert error["message"]
    assert await count_connections(connections_db, organization_id) == 0


async def test_bad_certificate_typed_in_is_a_422_naming_its_position(service, settings):
    body = saml_fields()
    body["saml"]["certificates"] = [pem(make_certificate()), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]  # type: ignore[index]
    response = await create(service, settings, new_id("org"), body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "saml.certificates.1"


async def test_body_over_2_mib_is_refused(service, settings):
    response = await create(service, settings, new_id("org"),
                            {"type": "saml", "provider": "okta", "saml": {"metadata_xml": "x" * (2 * 1024 * 1024 + 10)}})
    assert response.status_code == 413


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"type": "ldap", "provider": "okta"}, 422, "type"),
    ({"type": "saml", "provider": "generic_oidc"}, 422, "provider"),
    ({"type": "saml", "provider": "okta", "saml": {"unknown": 1}}, 422, "saml.unknown"),
    ({"type": "saml", "provider": "okta", "oidc": {"issuer": "https://x"}}, 422, "oidc"),
])
async def test_invalid_bodies_name_the_field(service, settings, body, status, field):
    response = await create(service, settings, new_id("org"), body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(("raw", "field"), [
    (rb'{"type": "saml", "provider": "okta", "saml": {"metadata_xml": "<a>\ud800</a>"}}', None),
    (rb'{"type": "saml", "provider": "okta", "saml": {"idp_entity_id": "a\u0000b"}}', "saml.idp_entity_id"),
    (rb'{"type": "saml", "provider": "okta", "saml": {"sso_url": "https://a\ud800.example/"}}', None),
    (rb'{"type": "oidc", "provider": "okta", "oidc": {"client_id": "\u0000"}}', "oidc.client_id"),
    (rb'{"type": "saml", "provider": "okta", "saml": {"sso_url": "https://a.example/\u2028x"}}', "saml.sso_url"),
])
async def test_control_characters_and_broken_unicode_are_a_4xx(service, settings, raw, field):
    """Lone surrogates are not JSON (400, no field); control characters are named by field (422)."""
    response = await service.post("/internal/portal/connections", content=raw,
                                  headers={**portal(settings, new_id("org")), "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"].get("field") == field


async def test_malformed_json_is_400(service, settings):
    response = await service.post("/internal/portal/connections", content=b"{nope",
                                  headers={**portal(settings, new_id("org")), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


async def test_outbound_fetches_to_loopback_are_refused_and_never_made(service, settings, connections_db):
    organization_id = new_id("org")
    with loopback_server() as idp:
        idp.routes["/metadata"] = Route(body=vendor_metadata("okta", make_certificate()).encode())
        idp.serve_json("/.well-known/openid-configuration", discovery_document(idp.url()))
        for url in (idp.url("/metadata"), f"https://127.0.0.1:{idp.port}/metadata", f"https://localhost:{idp.port}/metadata"):
            response = await create(service, settings, organization_id,
                                    {"type": "saml", "provider": "okta", "saml": {"metadata_url": url}})
            assert response.status_code == 422, response.text
            assert response.json()["error"]["field"] == "saml.metadata_url"
            assert response.json()["error"]["code"] in ("address_refused", "https_required")
        response = await create(service, settings, organization_id, {"type": "oidc", "provider": "okta", "oidc": {
            "issuer": f"https://localhost:{idp.port}", "client_id": "abc", "client_secret": SECRET}})
        assert response.status_code == 422
        assert (response.json()["error"]["field"], response.json()["error"]["code"]) == ("oidc.issuer", "address_refused")
        assert SECRET not in response.text
        assert idp.requests == []
    assert await count_connections(connections_db, organization_id) == 0


async def test_a_session_of_one_organization_gets_404_for_another_organizations_connection(service, settings):
    owner, intruder = new_id("org"), new_id("org")
    created = (await create(service, settings, owner, saml_fields())).json()["connection"]
    path = f"/internal/portal/connections/{created['id']}"
    headers = portal(settings, intruder, "ses_intruder")
    answers = [
        await service.get(path, headers=headers),
        await service.patch(path, json={"provider": "generic_saml"}, headers={**headers, "If-Match": '"1"'}),
        await service.post(f"{path}/enable", headers=headers),
        await service.post(f"{path}/disable", headers=headers),
        await service.delete(path, headers={**headers, "If-Match": '"1"'}),
    ]
    assert [answer.status_code for answer in answers] == [404] * 5
    assert all(answer.json()["error"]["code"] == "not_found" for answer in answers)
    listed = await service.get("/internal/portal/connections", headers=headers)
    assert listed.json() == {"connections": []}
    still = await service.get(path, headers=portal(settings, owner))
    assert (still.status_code, still.json()["connection"]["version"]) == (200, 1)


async def test_internal_routes_need_the_token_and_the_right_caller(service, settings):
    assert (await service.get("/internal/portal/connections")).status_code == 401
    wrong_token = {**portal(settings, new_id("org")), "X-Portico-Internal-Token": "guess"}
    assert (await service.get("/internal/portal/connections", headers=wrong_token)).status_code == 401
    api_key = {**portal(settings, new_id("org")), "X-Portico-Actor": "api_key:key_1"}
    assert (await service.get("/internal/portal/connections", headers=api_key)).status_code == 403
    no_org = {k: v for k, v in portal(settings, "x").items() if k != "X-Portico-Organization"}
    assert (await service.get("/internal/portal/connections", headers=no_org)).status_code == 403


async def test_oidc_secret_is_write_only_and_absent_from_postgres_and_kafka(service, settings, connections_db):
    organization_id = new_id("org")
    new_secret = SECRET[::-1]
    with loopback_server() as idp:
        issuer = idp.url()
        idp.serve_json("/.well-known/openid-configuration", discovery_document(issuer))
        # A service instance like the running one, whose allow-list admits this test's loopback IdP.
        connections = ConnectionService(
            pool=lambda: connections_db, keyring=Keyring.from_setting(settings.secret("encryption_keys")),
            fetcher=Fetcher(OutboundPolicy.from_setting(idp.host_port)), clock=SystemClock(),
            public_url=settings.public_url,
        )
        async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_CONNECTIONS) as tap:
            created = await connections.create(organization_id, Actor(kind="portal_session", id="ses_tests"),
                                               CreateConnection.model_validate({"type": "oidc", "provider": "okta", "oidc": {
                                                   "issuer": issuer, "client_id": "0oa1client", "client_secret": SECRET}}))
            assert created["status"] == "configured"
            assert created["oidc"]["token_endpoint"] == f"{issuer}/oauth2/v1/token"
            path = f"/internal/portal/connections/{created['id']}"
            headers = portal(settings, organization_id)
            read = await service.get(path, headers=headers)
            patched = await service.patch(path, json={"oidc": {"client_secret": new_secret}},
                                          headers={**headers, "If-Match": '"1"'})
            listed = await service.get("/internal/portal/connections", headers=headers)
            events = await tap.wait_for(lambda e: e.subject == organization_id, count=4)
        assert idp.requests == ["/.well-known/openid-configuration"]
    for answer in (read, patched, listed):
        assert answer.status_code == 200, answer.text
        assert SECRET not in answer.text and new_secret not in answer.text
    view = read.json()["connection"]["oidc"]
    assert (view["client_secret_set"], view["client_secret_last4"]) == (True, SECRET[-4:])
    assert patched.json()["connection"]["oidc"]["client_secret_last4"] == new_secret[-4:]
    assert [e.type for e in events] == ["portico.connection.created", "portico.connection.viewed",
                                        "portico.connection.updated", "portico.connection.viewed"]
    assert events[2].data["changed_fields"] == ["oidc.client_secret"]
    for event in events:
        assert SECRET not in event.model_dump_json() and new_secret not in event.model_dump_json()
        assert SECRET[-4:] not in event.model_dump_json()

    dump = subprocess.run(["pg_dump", "--data-only", settings.connection_config_database_url.get_secret_value()],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert created["id"] in dump
    assert SECRET not in dump and new_secret not in dump
    row = await connections_db.fetchrow("SELECT secret_key_id, secret_ciphertext FROM connections WHERE id = $1",
                                        created["id"])
    assert row["secret_key_id"] == settings.secret("encryption_keys").split(":")[0]
    assert new_secret.encode() not in bytes(row["secret_ciphertext"])


def management(settings: Settings, actor: str = "api_key:key_tests") -> dict[str, str]:
    """What the proxy adds once link-issuer has verified the API key."""
    return {"X-Portico-Internal-Token": settings.secret("internal_token"), "X-Portico-Actor": actor}


async def test_management_list_answers_for_known_organizations_only(api, service, settings):
    created_org = await api.post("/api/v1/organizations", json={"display_name": "Connections Inc."})
    assert created_org.status_code == 201, created_org.text
    organization_id = created_org.json()["organization"]["id"]
    connection = (await create(service, settings, organization_id, saml_fields())).json()["connection"]

    listed = await service.get(f"/api/v1/organizations/{organization_id}/connections", headers=management(settings))
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["connections"]] == [connection["id"]]
    assert listed.json()["connections"][0]["sp"] == connection["sp"]
    unknown = await service.get(f"/api/v1/organizations/{new_id('org')}/connections", headers=management(settings))
    assert unknown.status_code == 404
    portal_session = await service.get(f"/api/v1/organizations/{organization_id}/connections",
                                       headers=management(settings, "portal_session:ses_x"))
    assert portal_session.status_code == 403


async def test_management_list_through_the_proxy_with_an_api_key(api, service, settings):
    organization_id = await create_organization(api, "Via Proxy")
    connection = (await create(service, settings, organization_id, saml_fields())).json()["connection"]
    listed = await api.get(f"/api/v1/organizations/{organization_id}/connections")
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["connections"]] == [connection["id"]]


async def test_sp_metadata_is_public_through_the_proxy(http, service, settings):
    connection = (await create(service, settings, new_id("org"), saml_fields())).json()["connection"]
    response = await http.get(f"/sso/saml/{connection['id']}/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    descriptor = entity_descriptor_from_string(response.text)
    assert descriptor.entity_id == connection["sp"]["entity_id"]
    assert descriptor.spsso_descriptor[0].assertion_consumer_service[0].location == connection["sp"]["acs_url"]
    assert (await http.get(f"/sso/saml/{new_id('conn')}/metadata")).status_code == 404


async def test_organizations_are_learned_from_link_issuer_events(api, connections_db):
    created = await api.post("/api/v1/organizations", json={"display_name": "Learned Ltd."})
    organization_id = created.json()["organization"]["id"]
    found = await eventually(
        lambda: connections_db.fetchval("SELECT display_name FROM organizations WHERE id = $1", organization_id),
        lambda name: name is not None,
    )
    assert found == "Learned Ltd."


async def test_a_committed_change_reaches_kafka_after_kafka_was_unreachable(settings, connections_db, monkeypatch):
    """The outbox keeps the event while its relay cannot reach Kafka and publishes it once Kafka answers.

    Kafka itself is shared by everyone on this machine, so the outage is this relay's alone: a broker
    that was never connected. The change goes through the service's code into a scratch schema with its
    own relay lock, so the running service's relay does not take the event first.
    """
    schema = f"outage_{new_id('t')}"
    await connections_db.execute(f'CREATE SCHEMA "{schema}"')
    pool = await asyncpg.create_pool(settings.connection_config_database_url.get_secret_value(), min_size=1,
                                     max_size=3, server_settings={"search_path": schema})
    monkeypatch.setattr(outbox, "_RELAY_LOCK", f"portico.outbox_relay.{schema}")
    relay = live_broker = None
    try:
        await apply_migrations(pool, "connection_config", MIGRATIONS)
        connections = ConnectionService(
            pool=lambda: pool, keyring=Keyring.from_setting(settings.secret("encryption_keys")),
            fetcher=Fetcher(OutboundPolicy()), clock=SystemClock(), public_url=settings.public_url,
        )
        unreachable = make_broker(settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"}), "outage")
        relay = OutboxRelay(pool, unreachable, outbox="test", poll_interval_s=0.05)
        relay.start()
        organization_id = new_id("org")
        created = await connections.create(organization_id, Actor(kind="portal_session", id="ses_outage"),
                                           CreateConnection.model_validate(saml_fields()))
        waiting = await eventually(lambda: pool.fetchval("SELECT count(*) FROM outbox"), lambda n: n == 0, timeout_s=1.5)
        assert waiting == 1  # Kafka away: the committed event stays in the outbox
        await relay.stop()

        live_broker = make_broker(settings, "outage")
        await live_broker.start()
        async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_CONNECTIONS) as tap:
            relay = OutboxRelay(pool, live_broker, outbox="test", poll_interval_s=0.05)
            relay.start()
            events = await tap.wait_for(lambda e: e.subject == organization_id)
        assert [(e.type, e.data["connection_id"]) for e in events] == [("portico.connection.created", created["id"])]
        assert await eventually(lambda: pool.fetchval("SELECT count(*) FROM outbox"), lambda n: n == 0) == 0
    finally:
        if relay is not None:
            await relay.stop()
        if live_broker is not None:
            await live_broker.stop()
        await pool.close()
        await connections_db.execute(f'DROP SCHEMA "{schema}" CASCADE')
