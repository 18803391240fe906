"""A consumer group read by shared.consumers, against the real Kafka: records come in batches in order, a batch
whose handler raised comes again whole, and offsets are committed only for what was handled (a new member of
the group starts after it, never before and never past it)."""
import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.broker import aiokafka_options
from shared.consumers import Consumers
from shared.ids import new_id
from shared.settings import Settings
from tests.integration.kafka_tap import throwaway_topic
from tests.integration.polling import eventually


@pytest.fixture
async def topic(settings: Settings) -> AsyncIterator[str]:
    async with throwaway_topic(settings, "consumers-test") as name:
        yield name


async def _copy(values: list[bytes]) -> list[bytes]:
    return list(values)


async def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(**aiokafka_options(settings))
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def test_a_batch_whose_handler_raised_comes_again_and_only_handled_offsets_are_committed(settings, topic):
    group = new_id("consumers-test")
    seen: list[list[bytes]] = []
    handled: list[bytes] = []
    failures_left = 1

    consumers = Consumers(settings, "consumers-test")

    @consumers.batches(topic, group_id=group, max_records=100)
    async def handle(records: tuple[ConsumerRecord, ...]) -> None:
        nonlocal failures_left
        values = [record.value or b"" for record in records]
        seen.append(values)
        if failures_left:
            failures_left -= 1
            raise RuntimeError("Postgres is down")
        handled.extend(values)

    await produce(settings, topic, [b"one", b"two", b"three"])
    consumers.start()
    try:
        assert await eventually(lambda: _copy(handled), lambda got: got == [b"one", b"two", b"three"], 20) \
            == [b"one", b"two", b"three"]
    finally:
        await consumers.stop()
    # The first delivery raised and was rewound: what came again starts at the same first record.
    assert seen[0][0] == b"one"
    assert seen[1][0] == b"one"

    # A new member of the group starts after what was handled: only the records produced since arrive.
    later: list[bytes] = []
    again = Consumers(settings, "consumers-test")

    @again.batches(topic, group_id=group, max_records=100)
    async def handle_later(records: tuple[ConsumerRecord, ...]) -> None:
        later.extend(record.value or b"" for record in records)

    await produce(settings, topic, [b"four"])
    again.start()
    try:
        assert await eventually(lambda: _copy(later), lambda got: got == [b"four"], 20) == [b"four"]
        await asyncio.sleep(1)  # nothing older follows
        assert later == [b"four"]
    finally:
        await again.stop()


async def test_a_consumer_that_cannot_reach_kafka_keeps_trying_and_stops_cleanly(settings, topic):
    """Kafka unreachable at start-up (wrong address here): the group keeps trying and logs why, and a stop
    ends it cleanly instead of hanging."""
    unreachable = settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    consumers = Consumers(unreachable, "consumers-test")

    @consumers.batches(topic, group_id=new_id("consumers-test"), max_records=10)
    async def handle(records: tuple[ConsumerRecord, ...]) -> None:
        raise AssertionError("nothing can arrive")

    consumers.start()
    await asyncio.sleep(1.5)
    assert not any(task.done() for task in consumers._tasks)  # still trying, not crashed
    await asyncio.wait_for(consumers.stop(), 15)
