"""Kafka subscribers of portal-session: link and organization events become Redis state; a revocation
is PortalSessions.revoke (it ends the link's sessions).

Two consumer groups read portico.links, in batches (offsets committed after the batch is applied; a crash
redelivers it, and every step is idempotent):
- `portico-portal-session` applies every event in order, consecutive issued links in one Redis pipeline;
- `portico-portal-session-urgent` applies only revocations and new organizations, reading the type from the
  record's header and skipping the rest unparsed, so one tenant's burst of issued links never stands between
  another tenant's revocation (or new organization) and Redis. Whichever group gets to a revocation first
  applies it; the other finds nothing left to end. A revocation applied before its link's issue leaves a
  tombstone the issue never re-arms (store._APPLY_ISSUED).
"""
from datetime import UTC, datetime

import structlog
from aiokafka import ConsumerRecord

from portal_session import store
from portal_session.sessions import PortalSessions
from portico_events import TOPIC_LINKS, CloudEvent, OrganizationCreated, PortalLinkIssued, PortalLinkRevoked
from shared import tracing
from shared.broker import events_of, paused_on_failure
from shared.consumers import Consumers

CONSUMER_GROUP = "portico-portal-session"
URGENT_CONSUMER_GROUP = "portico-portal-session-urgent"
URGENT_TYPES = frozenset({PortalLinkRevoked.event_type, OrganizationCreated.event_type})
MAX_BATCH = 500
RETRY_DELAY_S = 1.0
log = structlog.get_logger("portal_session.handlers")


async def apply(events: list[CloudEvent], portal: store.PortalStore, sessions: PortalSessions) -> None:
    """Apply the events in their order; each run of consecutive issued links is one Redis round trip."""
    issued: list[PortalLinkIssued] = []
    contexts: list[str] = []  # with tracing on, each link's issue trace: its redemption continues it
    for event in events:
        data = event.typed_data()
        if isinstance(data, PortalLinkIssued):
            issued.append(data)
            if tracing.ENABLED:
                contexts.append(event.traceparent or "")
            continue
        await _arm(issued, contexts, portal, events)
        issued, contexts = [], []
        if isinstance(data, PortalLinkRevoked):
            revoked = await sessions.revoke(data, event.id)
            log.info("link.revoked_applied", link_id=data.link_id, sessions_ended=revoked.sessions_ended,
                     lag_ms=_lag_ms(event))
        elif isinstance(data, OrganizationCreated):
            await portal.remember_organization(data.organization_id, data.display_name, data.allowed_frame_ancestors)
    await _arm(issued, contexts, portal, events)


async def _arm(
    issued: list[PortalLinkIssued], contexts: list[str], portal: store.PortalStore, events: list[CloudEvent]
) -> None:
    if issued:
        outcomes = await portal.apply_links_issued(issued, contexts)
        log.debug("links.issued_applied", links=len(issued), armed=outcomes.count("armed"), lag_ms=_lag_ms(events[-1]))


def register_handlers(consumers: Consumers, portal: store.PortalStore, sessions: PortalSessions) -> None:
    @consumers.batches(TOPIC_LINKS, group_id=CONSUMER_GROUP, max_records=MAX_BATCH)
    async def apply_link_events(records: tuple[ConsumerRecord, ...]) -> None:
        await _applied(events_of(records), portal, sessions)

    @consumers.batches(TOPIC_LINKS, group_id=URGENT_CONSUMER_GROUP, max_records=MAX_BATCH)
    async def apply_urgent_link_events(records: tuple[ConsumerRecord, ...]) -> None:
        await _applied(events_of(records, URGENT_TYPES), portal, sessions)


async def _applied(events: list[CloudEvent], portal: store.PortalStore, sessions: PortalSessions) -> None:
    async with paused_on_failure(log, "link.events_not_applied", RETRY_DELAY_S, events=len(events)):
        await apply(events, portal, sessions)


def _lag_ms(event: CloudEvent) -> float:
    return (datetime.now(UTC) - event.time).total_seconds() * 1000
