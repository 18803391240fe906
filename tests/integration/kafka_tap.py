"""Read what Portico publishes: a consumer outside any group, from the current end of a topic (or its start)."""
import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import ValidationError

from portico_events import CloudEvent
from shared.broker import aiokafka_options
from shared.ids import new_id
from shared.settings import Settings


class KafkaTap:
    def __init__(self, bootstrap_servers: str, topic: str, *, from_beginning: bool = False) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
        self._topic = topic
        self._from_beginning = from_beginning
        self.seen: list[CloudEvent] = []

    async def __aenter__(self) -> "KafkaTap":
        await self._consumer.start()
        # An unsubscribed consumer knows no partitions yet: ask the cluster.
        metadata = await self._consumer._client.fetch_all_metadata()  # aiokafka has no public call for this
        partitions = [TopicPartition(self._topic, p) for p in metadata.partitions_for_topic(self._topic) or set()]
        if not partitions:
            await self._consumer.stop()
            raise RuntimeError(f"topic {self._topic} has no partitions (is the stack up?)")
        self._consumer.assign(partitions)
        if self._from_beginning:
            await self._consumer.seek_to_beginning(*partitions)
        else:
            await self._consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve the end offsets now, before the test acts
            await self._consumer.position(partition)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def wait_for(self, matches: Callable[[CloudEvent], bool], count: int = 1, timeout_s: float = 10) -> list[CloudEvent]:
        """Events published since the tap opened that match, once `count` distinct ones are in or the time is up."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    try:
                        self.seen.append(CloudEvent.from_bytes(record.value or b""))
                    except ValidationError:
                        pass  # not a CloudEvent (some tests publish garbage on purpose)
            found = [event for event in self.seen if matches(event)]
            if len({event.id for event in found}) >= count:  # redelivered copies share their id
                return found
            await asyncio.sleep(0)
        return [event for event in self.seen if matches(event)]


@asynccontextmanager
async def throwaway_topic(settings: Settings, name: str, partitions: int = 1) -> AsyncIterator[str]:
    """A topic of the test's own (`portico.<name>.<random>`), deleted afterwards, so the services never see it."""
    topic = f"portico.{name}.{new_id('t')}"
    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
        yield topic
    finally:
        await admin.delete_topics([topic])
        await admin.close()
