"""Create Portico's Kafka topics explicitly (auto-create is off): `python -m shared.topics`."""
import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from portico_events import ALL_TOPICS
from shared.broker import aiokafka_options
from shared.logs import configure_logging, get_logger
from shared.settings import Settings, get_settings

log = get_logger("shared.topics")


async def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create every missing topic with the configured partitions; return the names it created."""
    admin = AIOKafkaAdminClient(**aiokafka_options(settings), request_timeout_ms=10_000)
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in ALL_TOPICS if name not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(name, settings.kafka_topic_partitions, settings.kafka_replication_factor)
                        for name in missing
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # another process created them between our list and create
        return missing
    finally:
        await admin.close()


def main() -> None:
    settings = get_settings()
    configure_logging("topics", settings.log_level, settings.log_format)
    created = asyncio.run(ensure_topics(settings))
    log.info("topics.ready", created=created, topics=list(ALL_TOPICS), partitions=settings.kafka_topic_partitions)


if __name__ == "__main__":
    main()
