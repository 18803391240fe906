"""Kafka subscribers of portal-session: link events become Redis state; revocation ends sessions."""
from datetime import UTC, datetime

import structlog
from faststream.kafka import KafkaBroker

from portal_session import store
from portal_session.domain import SOURCE, derived_event_id
from portico_events import (
    TOPIC_LINKS,
    CloudEvent,
    OrganizationCreated,
    PortalLinkIssued,
    PortalLinkRevoked,
    PortalSessionEnded,
)
from shared.broker import subscribe_events
from shared.ids import Clock
from shared.redis_outbox import RedisOutboxRelay

CONSUMER_GROUP = "portico-portal-session"
log = structlog.get_logger("portal_session.handlers")


async def end_sessions_of_revoked_link(
    portal: store.PortalStore, relay: RedisOutboxRelay, cause: CloudEvent, revoked: PortalLinkRevoked, clock: Clock
) -> int:
    """End every session opened through the link, each with one `session.ended` (stable id on replay)."""
    ended = 0
    for key, session_id in await portal.sessions_of_link(revoked.link_id):
        if session_id is not None:
            event = CloudEvent.wrap(
                PortalSessionEnded(
                    organization_id=revoked.organization_id,
                    session_id=session_id,
                    link_id=revoked.link_id,
                    reason="link_revoked",
                    actor=revoked.actor,
                ),
                source=SOURCE,
                time=clock.now(),
                event_id=derived_event_id(cause.id, session_id),
            )
            ended += await portal.end_session(key, event.to_bytes())
        await portal.forget_session_of_link(revoked.link_id, key)
    if ended:
        relay.wake()
    return ended


def register_handlers(broker: KafkaBroker, portal: store.PortalStore, relay: RedisOutboxRelay, clock: Clock) -> None:
    @subscribe_events(broker, TOPIC_LINKS, group_id=CONSUMER_GROUP)
    async def apply_link_event(event: CloudEvent) -> None:
        data = event.typed_data()
        if isinstance(data, PortalLinkIssued):
            outcome = await portal.apply_link_issued(
                data.link_id,
                data.organization_id,
                data.kind,
                data.expire_time.timestamp(),
                data.token_sha256,
                data.return_url or "",
                data.success_url or "",
            )
            log.debug("link.issued_applied", outcome=outcome, lag_ms=_lag_ms(event))
        elif isinstance(data, PortalLinkRevoked):
            await portal.apply_link_revoked(data.link_id, data.organization_id)
            ended = await end_sessions_of_revoked_link(portal, relay, event, data, clock)
            log.info("link.revoked_applied", link_id=data.link_id, sessions_ended=ended)
        elif isinstance(data, OrganizationCreated):
            await store.remember_organization(
                portal.redis, data.organization_id, data.display_name, data.allowed_frame_ancestors
            )


def _lag_ms(event: CloudEvent) -> float:
    return (datetime.now(UTC) - event.time).total_seconds() * 1000

