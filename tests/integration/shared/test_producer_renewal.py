"""After a Kafka restart aiokafka's idempotent producer can fail every send with OutOfOrderSequenceNumber
for good; found by `make chaos`: connection-config's outbox stalled until the process was restarted.
publish_events now gives the broker a new producer after such an error, and the next try goes through."""
import asyncio
from datetime import UTC, datetime

import aiokafka.errors

from portico_events import TOPIC_CONNECTIONS, CloudEvent, ConnectionViewed
from shared.broker import make_broker, publish_events, renew_producer
from shared.ids import new_id
from shared.settings import Settings
from tests.integration.kafka_tap import KafkaTap


def viewed(organization_id: str) -> CloudEvent:
    return CloudEvent.wrap(ConnectionViewed(organization_id=organization_id), source="/portico/tests", time=datetime.now(UTC))


async def test_a_renewed_producer_publishes_and_its_predecessor_is_closed(settings: Settings):
    broker = make_broker(settings, "producer-renewal-test")
    await broker.start()
    try:
        organization = new_id("org")
        async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_CONNECTIONS) as tap:
            await publish_events(broker, [viewed(organization)])
            before = broker.config.producer._producer
            await renew_producer(broker)
            assert broker.config.producer._producer is not before
            await publish_events(broker, [viewed(organization)])
            seen = await tap.wait_for(lambda e: e.subject == organization, count=2, timeout_s=20)
        assert len({event.id for event in seen}) == 2
    finally:
        await broker.stop()


async def test_a_fatal_producer_error_renews_the_producer_and_is_raised_for_a_retry(settings: Settings):
    broker = make_broker(settings, "producer-renewal-test")
    await broker.start()
    try:
        real_publish = broker.publish
        failures = iter([aiokafka.errors.OutOfOrderSequenceNumber()])

        async def publish_failing_once(*args, **kwargs):
            error = next(failures, None)
            if error is None:
                return await real_publish(*args, **kwargs)
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_exception(error)
            return future

        broker.publish = publish_failing_once  # type: ignore[method-assign]
        before = broker.config.producer._producer
        organization = new_id("org")
        try:
            await publish_events(broker, [viewed(organization)])
            raise AssertionError("the failure must reach the relay, which keeps the events queued")
        except aiokafka.errors.OutOfOrderSequenceNumber:
            pass
        assert broker.config.producer._producer is not before
        async with KafkaTap(settings.kafka_bootstrap_servers, TOPIC_CONNECTIONS) as tap:
            await publish_events(broker, [viewed(organization)])
            assert await tap.wait_for(lambda e: e.subject == organization, timeout_s=20)
    finally:
        await broker.stop()
