"""The audit chain's rules without servers: entries, canonical records, chaining, verification."""
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aiokafka import ConsumerRecord

from audit.domain import (
    GENESIS_HASH,
    AuditRecord,
    ChainHead,
    ChainVerifier,
    UnstorableEvent,
    canonical_json,
    chain_entries,
    entry_from_event,
    format_time,
    fresh_entries,
)
from audit.handlers import decode_entries
from portico_events import (
    Actor,
    CloudEvent,
    ConnectionUpdated,
    OrganizationCreated,
    PortalLinkRedeemed,
    PortalSessionStarted,
)

T0 = datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=UTC)
VIEWER = Actor(kind="portal_session", id="ses_1", client_address="203.0.113.9", user_agent="Mozilla/5.0")


def event(data, *, event_id=None, time=T0):
    return CloudEvent.wrap(data, source="/portico/tests", time=time, event_id=event_id)


def organization_created(org="org_a", **kwargs):
    return event(OrganizationCreated(organization_id=org, display_name="Acme"), **kwargs)


def connection_updated(org="org_a", **kwargs):
    data = ConnectionUpdated(
        organization_id=org, actor=VIEWER, connection_id="conn_1", connection_type="saml", provider="okta",
        status="configured", version=2, changed_fields=["saml.sso_url"],
    )
    return event(data, **kwargs)


def chain(events, heads=None, last_sequence=0, recorded_at=T0):
    return list(chain_entries([entry_from_event(e) for e in events], heads or {}, last_sequence, recorded_at))


def test_entry_takes_actor_and_target_from_the_event():
    entry = entry_from_event(connection_updated())
    assert (entry.actor_kind, entry.actor_id) == ("portal_session", "ses_1")
    assert (entry.client_address, entry.user_agent) == ("203.0.113.9", "Mozilla/5.0")
    assert entry.target == "conn_1"
    assert entry.organization_id == "org_a"
    assert json.loads(entry.data)["changed_fields"] == ["saml.sso_url"]


@pytest.mark.parametrize(
    ("data", "target"),
    [
        (PortalLinkRedeemed(organization_id="org_a", link_id="lnk_1", session_id="ses_1"), "lnk_1"),
        (PortalSessionStarted(organization_id="org_a", link_id="lnk_1", session_id="ses_1"), "ses_1"),
        (OrganizationCreated(organization_id="org_a", display_name="Acme"), "org_a"),
    ],
)
def test_target_is_the_record_the_event_is_about(data, target):
    assert entry_from_event(event(data)).target == target


def test_event_without_actor_is_recorded_as_system():
    raw = CloudEvent(id="evt_1", source="/x", type="portico.future.thing", time=T0, subject="org_a",
                     dataversion=1, data={"organization_id": "org_a"})
    entry = entry_from_event(raw)
    assert (entry.actor_kind, entry.actor_id, entry.target) == ("system", None, None)


def test_hostile_values_become_storable_and_stay_deterministic():
    raw = CloudEvent.from_bytes(
        b'{"id":"evt_\\u0000","source":"/x","type":"t","time":"2026-01-01T00:00:00","subject":"org_\\u0000",'
        b'"dataversion":1,"data":{"n":NaN,"s":"a\\u0000b","i":Infinity}}'
    )
    entry = entry_from_event(raw)
    assert "\x00" not in entry.event_id + entry.organization_id
    assert entry.event_time == datetime(2026, 1, 1, tzinfo=UTC)  # no offset means UTC
    assert json.loads(entry.data) == {"n": "nan", "s": "a\x00b", "i": "inf"}
    assert entry.data.isascii()


def test_canonical_json_sorts_keys_and_has_no_whitespace():
    assert canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"\\u00e9"],"b":1}'


def test_times_serialize_one_way_only():
    assert format_time(datetime(2026, 1, 31, 13, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-31T12:00:00.000000Z"


def test_chain_links_each_organization_and_numbers_globally():
    records = chain([organization_created("org_a"), organization_created("org_b"), connection_updated("org_a")],
                    last_sequence=41)
    assert [r.sequence for r in records] == [42, 43, 44]
    assert [(r.organization_id, r.organization_sequence) for r in records] == [("org_a", 1), ("org_b", 1), ("org_a", 2)]
    assert records[0].prev_hash == records[1].prev_hash == GENESIS_HASH
    assert records[2].prev_hash == records[0].hash


def test_chain_continues_from_a_stored_head():
    head = ChainHead(sequence=7, organization_sequence=3, hash="ab" * 32)
    (record,) = chain([connection_updated("org_a")], heads={"org_a": head}, last_sequence=9)
    assert (record.sequence, record.organization_sequence, record.prev_hash) == (10, 4, "ab" * 32)


def test_hash_is_sha256_of_the_canonical_record_without_hash():
    (record,) = chain([connection_updated()])
    document = json.loads(record.canonical())
    assert document == record.document()
    del document["hash"]
    assert hashlib.sha256(canonical_json(document).encode()).hexdigest() == record.hash
    assert record.canonical(with_hash=False) == canonical_json(document)


def test_redelivered_and_repeated_event_ids_are_appended_once():
    first, second = organization_created(event_id="evt_1"), connection_updated(event_id="evt_2")
    entries = [entry_from_event(e) for e in (first, second, first)]
    assert [e.event_id for e in fresh_entries(entries, set())] == ["evt_1", "evt_2"]
    assert [e.event_id for e in fresh_entries(entries, {"evt_1"})] == ["evt_2"]


def intact_log() -> list[AuditRecord]:
    return chain([organization_created("org_a"), organization_created("org_b"), connection_updated("org_a"),
                  connection_updated("org_b"), connection_updated("org_a")])


def verify(records, **kwargs):
    verifier = ChainVerifier(**kwargs)
    for record in records:
        found = verifier.check(record)
        if found:
            return verifier, found
    return verifier, None


def test_intact_log_verifies():
    verifier, broken = verify(intact_log(), first_sequence=1)
    assert broken is None
    assert verifier.checked == 5


def test_altered_record_is_named():
    records = intact_log()
    records[2] = replace(records[2], data=records[2].data.replace("okta", "evil"))
    _, broken = verify(records, first_sequence=1)
    assert (broken.sequence, broken.reason) == (3, "hash_mismatch")


def test_any_changed_byte_of_data_breaks_the_hash_even_if_the_json_means_the_same():
    records = intact_log()
    records[0] = replace(records[0], data=records[0].data.replace(",", ", ", 1))
    _, broken = verify(records)
    assert (broken.sequence, broken.reason) == (1, "hash_mismatch")


def test_rehashed_alteration_breaks_the_next_link():
    records = intact_log()
    altered = replace(records[0], actor_id="someone_else")
    records[0] = replace(altered, hash=altered.computed_hash())
    _, broken = verify(records)
    assert (broken.sequence, broken.reason) == (3, "prev_hash_mismatch")


def test_deleted_record_is_a_gap():
    records = intact_log()
    del records[2]
    _, broken = verify(records, first_sequence=1)
    assert (broken.sequence, broken.reason) == (4, "sequence_gap")
    _, broken = verify([r for r in records if r.organization_id == "org_a"])
    assert (broken.sequence, broken.reason) == (5, "organization_sequence_gap")


def test_verification_can_start_from_an_archive_anchor():
    records = intact_log()
    anchors = {"org_a": ChainHead(1, 1, records[0].hash), "org_b": ChainHead(2, 1, records[1].hash)}
    verifier, broken = verify(records[2:], anchors=anchors, first_sequence=3)
    assert broken is None
    assert (verifier.checked, verifier.last.sequence) == (3, 5)


@pytest.mark.parametrize(
    "actor",
    [
        Actor(kind="system"),
        VIEWER,
        Actor(kind="api_key", id='key_"quoted"\\', client_address="::1", user_agent="Ünïcödé 🚀\n\t\x01"),
    ],
)
def test_hand_written_canonical_form_equals_canonical_json_of_the_document(actor):
    data = ConnectionUpdated(
        organization_id="org_é\"x", actor=actor, connection_id="conn_1", connection_type="oidc",
        provider="Entra ID ☁", status="enabled", version=7, changed_fields=["oidc.client_secret", "a\u2028b"],
    )
    old = datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)
    for record in chain([event(data), event(data, time=old)], last_sequence=2**40):
        document = record.document()
        assert record.canonical() == canonical_json(document)
        del document["hash"]
        assert record.canonical(with_hash=False) == canonical_json(document)


@pytest.mark.parametrize(
    "overrides", [{"id": "evt_" + "x" * 300}, {"subject": "org_" + "x" * 300}, {"dataversion": 2**31}, {"dataversion": -1}]
)
def test_events_postgres_could_never_store_are_refused_up_front(overrides):
    fields = {"id": "evt_1", "source": "/x", "type": "t", "time": T0, "subject": "org_a", "dataversion": 1, "data": {}}
    with pytest.raises(UnstorableEvent):
        entry_from_event(CloudEvent(**{**fields, **overrides}))


def test_decoding_a_batch_skips_what_can_never_be_recorded():
    good = organization_created()
    too_long = organization_created(event_id="evt_" + "x" * 300)
    records = [
        ConsumerRecord("portico.links", 0, offset, 0, 0, None, value, None, 0, 0, [])
        for offset, value in enumerate([b"{garbage", too_long.to_bytes(), good.to_bytes(), None])
    ]
    assert [entry.event_id for entry in decode_entries(records)] == [good.id]
