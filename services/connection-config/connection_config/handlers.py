"""Kafka subscriber of connection-config: learn organizations from link-issuer's events.

Batches, because portico.links carries every link event of the deployment and only `organization.created`
matters here (told by the record header; the rest is never parsed): a burst of issued links is skipped at
Kafka's speed instead of one handler call each. Offsets are committed after the batch; a crash redelivers it,
and an organization is recorded once whatever Kafka redelivers.
"""
import structlog
from aiokafka import ConsumerRecord

from connection_config import store
from portico_events import TOPIC_LINKS, OrganizationCreated
from shared.broker import events_of, paused_on_failure
from shared.runtime import ServiceRuntime

CONSUMER_GROUP = "portico-connection-config"
MAX_BATCH = 1000
RETRY_DELAY_S = 1.0
log = structlog.get_logger("connection_config.handlers")


def register_handlers(runtime: ServiceRuntime) -> None:
    @runtime.consumers.batches(TOPIC_LINKS, group_id=CONSUMER_GROUP, max_records=MAX_BATCH)
    async def learn_organizations(records: tuple[ConsumerRecord, ...]) -> None:
        for event in events_of(records, (OrganizationCreated.event_type,)):
            data = event.typed_data()
            if not isinstance(data, OrganizationCreated):
                continue
            async with paused_on_failure(log, "organization.not_recorded", RETRY_DELAY_S):
                learned = await store.record_organization(
                    runtime.require_pool(), data.organization_id, data.display_name, event.time, event.id)
            if learned:
                log.info("organization.learned", organization_id=data.organization_id)
