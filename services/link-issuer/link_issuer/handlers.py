"""Kafka subscriber of link-issuer: learn from portal-session when a link was redeemed, so its state can say `used`."""
import structlog
from faststream.kafka import KafkaBroker

from link_issuer.links import LinkService
from portico_events import TOPIC_SESSIONS, CloudEvent, PortalLinkRedeemed
from shared.broker import subscribe_events

CONSUMER_GROUP = "portico-link-issuer"
log = structlog.get_logger("link_issuer.handlers")


def register_handlers(broker: KafkaBroker, links: LinkService) -> None:
    @subscribe_events(broker, TOPIC_SESSIONS, group_id=CONSUMER_GROUP)
    async def record_redemption(event: CloudEvent) -> None:
        if event.type != PortalLinkRedeemed.event_type:
            return
        data = event.typed_data()
        assert isinstance(data, PortalLinkRedeemed)
        # Only the first redemption is kept, so a redelivered or replayed event changes nothing.
        if await links.record_redemption(data.link_id, event.time):
            log.info("link.redeemed", link_id=data.link_id, organization_id=data.organization_id)
