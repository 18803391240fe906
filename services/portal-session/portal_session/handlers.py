"""Kafka subscribers of portal-session: link and organization events become Redis state; a revocation
is PortalSessions.revoke (it ends the link's sessions)."""
from datetime import UTC, datetime

import structlog
from faststream.kafka import KafkaBroker

from portal_session import store
from portal_session.sessions import PortalSessions
from portico_events import TOPIC_LINKS, CloudEvent, OrganizationCreated, PortalLinkIssued, PortalLinkRevoked
from shared.broker import subscribe_events

CONSUMER_GROUP = "portico-portal-session"
log = structlog.get_logger("portal_session.handlers")


def register_handlers(broker: KafkaBroker, portal: store.PortalStore, sessions: PortalSessions) -> None:
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
            revoked = await sessions.revoke(data, event.id)
            log.info("link.revoked_applied", link_id=data.link_id, sessions_ended=revoked.sessions_ended)
        elif isinstance(data, OrganizationCreated):
            await portal.remember_organization(data.organization_id, data.display_name, data.allowed_frame_ancestors)


def _lag_ms(event: CloudEvent) -> float:
    return (datetime.now(UTC) - event.time).total_seconds() * 1000

