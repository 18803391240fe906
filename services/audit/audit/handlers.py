"""Kafka subscribers of the audit service: every Portico topic, one consumer group."""
import structlog
from faststream.kafka import KafkaBroker

from audit import store
from shared.broker import subscribe_events
from shared.events import ALL_TOPICS, CloudEvent
from shared.runtime import ServiceRuntime

CONSUMER_GROUP = "portico-audit"
log = structlog.get_logger("audit.handlers")


def register_handlers(broker: KafkaBroker, runtime: ServiceRuntime) -> None:
    @subscribe_events(broker, *ALL_TOPICS, group_id=CONSUMER_GROUP)
    async def record_event(event: CloudEvent) -> None:
        if await store.append_event(runtime.require_pool(), event):
            log.debug("audit.recorded")
        else:
            log.info("audit.duplicate_ignored")
