"""Kafka subscriber of link-issuer: learn from portal-session when a link was redeemed, so its state can say `used`.

Batches, because portico.sessions carries every session event of the deployment and only redemptions matter
here: one UPDATE per batch, offsets committed only after it (a crash redelivers; the first redemption time
is kept, so redelivered or replayed events change nothing).
"""
from collections.abc import Iterable
from datetime import datetime

import structlog
from aiokafka import ConsumerRecord

from link_issuer.links import LinkService
from portico_events import TOPIC_SESSIONS, PortalLinkRedeemed
from shared.broker import events_of, paused_on_failure
from shared.consumers import Consumers

CONSUMER_GROUP = "portico-link-issuer"
MAX_BATCH = 1000
RETRY_DELAY_S = 1.0
log = structlog.get_logger("link_issuer.handlers")


def redemptions(records: Iterable[ConsumerRecord]) -> dict[str, datetime]:
    """link id → its earliest redemption in the batch; the other session events are never parsed."""
    found: dict[str, datetime] = {}
    for event in events_of(records, (PortalLinkRedeemed.event_type,)):
        data = event.typed_data()
        if isinstance(data, PortalLinkRedeemed):
            found[data.link_id] = min(event.time, found.get(data.link_id, event.time))
    return found


def register_handlers(consumers: Consumers, links: LinkService) -> None:
    @consumers.batches(TOPIC_SESSIONS, group_id=CONSUMER_GROUP, max_records=MAX_BATCH)
    async def record_redemptions(records: tuple[ConsumerRecord, ...]) -> None:
        found = redemptions(records)
        if not found:
            return
        async with paused_on_failure(log, "link.redemptions_not_recorded", RETRY_DELAY_S, links=len(found)):
            recorded = await links.record_redemptions(found)
        if recorded:
            log.info("link.redemptions_recorded", links=recorded)
