"""portal-session's link-event batches: the urgent lane picks revocations and new organizations out of a burst
by the record header alone, and the full lane applies everything in order, runs of issued links in one
round trip."""
from datetime import UTC, datetime, timedelta

from aiokafka import ConsumerRecord

from portal_session.handlers import URGENT_TYPES, apply
from portico_events import (
    TOPIC_LINKS,
    Actor,
    CloudEvent,
    EventData,
    OrganizationCreated,
    PortalLinkIssued,
    PortalLinkRevoked,
)
from shared.broker import events_of

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ACTOR = Actor(kind="api_key", id="key_1")


def event(data: EventData) -> CloudEvent:
    return CloudEvent.wrap(data, source="/tests", time=NOW)


def issued(link_id: str, organization_id: str = "org_burst") -> CloudEvent:
    return event(PortalLinkIssued(organization_id=organization_id, link_id=link_id, kind="magic", actor=ACTOR,
                                  expire_time=NOW + timedelta(minutes=5), token_sha256="ab" * 32))


def revoked(link_id: str, organization_id: str = "org_other") -> CloudEvent:
    return event(PortalLinkRevoked(organization_id=organization_id, link_id=link_id, actor=ACTOR))


def created(organization_id: str) -> CloudEvent:
    return event(OrganizationCreated(organization_id=organization_id, display_name="New Co", actor=ACTOR))


def record(offset: int, cloud_event: CloudEvent | None, *, body: bytes | None = None, ce_type: str | None = None) -> ConsumerRecord:
    value = body if body is not None else cloud_event.to_bytes()  # type: ignore[union-attr]
    kind = ce_type or (cloud_event.type if cloud_event else None)
    headers = [("ce_type", kind.encode())] if kind else []
    return ConsumerRecord(TOPIC_LINKS, 0, offset, 0, 0, b"key", value, None, len(b"key"), len(value), headers)


def test_the_urgent_lane_takes_revocations_and_new_organizations_and_never_parses_the_burst():
    urgent = [revoked("lnk_2"), created("org_new")]
    records = [record(0, issued("lnk_1")), record(1, urgent[0]),
               record(2, None, body=b"not json: an issued event is never parsed", ce_type=PortalLinkIssued.event_type),
               record(3, urgent[1]), record(4, issued("lnk_3"))]
    assert [e.id for e in events_of(records, URGENT_TYPES)] == [e.id for e in urgent]


def test_a_malformed_urgent_record_is_skipped_and_the_full_lane_keeps_every_event_in_order():
    events = [issued("lnk_1"), revoked("lnk_1"), issued("lnk_2")]
    records = [record(0, events[0]), record(1, None, body=b"{", ce_type=PortalLinkRevoked.event_type),
               record(2, events[1]), record(3, events[2])]
    assert [e.id for e in events_of(records, URGENT_TYPES)] == [events[1].id]
    assert [e.id for e in events_of(records)] == [e.id for e in events]


class Recorder:
    """The store and PortalSessions as apply() uses them, writing down each call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    async def apply_links_issued(self, links: list[PortalLinkIssued], traceparents: list[str]) -> list[str]:
        self.calls.append(("arm", *(link.link_id for link in links)))
        return ["armed"] * len(links)

    async def revoke(self, data: PortalLinkRevoked, cause_event_id: str) -> object:
        self.calls.append(("revoke", data.link_id))

        class Revoked:
            sessions_ended = 0
        return Revoked()

    async def remember_organization(self, organization_id: str, *_: object) -> None:
        self.calls.append(("organization", organization_id))


async def test_runs_of_issued_links_are_armed_together_and_nothing_overtakes_a_revocation():
    recorder = Recorder()
    events = [issued("lnk_1"), issued("lnk_2"), revoked("lnk_1"), created("org_new"), issued("lnk_3"), issued("lnk_4")]
    await apply(events, recorder, recorder)  # type: ignore[arg-type]
    assert recorder.calls == [("arm", "lnk_1", "lnk_2"), ("revoke", "lnk_1"), ("organization", "org_new"),
                              ("arm", "lnk_3", "lnk_4")]
