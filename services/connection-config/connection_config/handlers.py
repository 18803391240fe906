"""Kafka subscribers of connection-config: learn organizations from link-issuer's events."""
import structlog
from faststream.kafka import KafkaBroker

from connection_config import store
from portico_events import TOPIC_LINKS, CloudEvent, OrganizationCreated
from shared.broker import subscribe_events
from shared.runtime import ServiceRuntime

CONSUMER_GROUP = "portico-connection-config"
log = structlog.get_logger("connection_config.handlers")


def register_handlers(broker: KafkaBroker, runtime: ServiceRuntime) -> None:
    @subscribe_events(broker, TOPIC_LINKS, group_id=CONSUMER_GROUP)
    async def learn_organization(event: CloudEvent) -> None:
        if event.type != OrganizationCreated.event_type:
            return
        data = event.typed_data()
        assert isinstance(data, OrganizationCreated)
        if await store.record_organization(
            runtime.require_pool(), data.organization_id, data.display_name, event.time, event.id
        ):
            log.info("organization.learned", organization_id=data.organization_id)
