"""The FastStream consumer: Portico's link and connection events in, the SQLite mirror kept up to date."""
import json
from pathlib import Path

from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage

from examples.connections_mirror.mirror import ConnectionsMirror
from portico_events import TOPIC_CONNECTIONS, TOPIC_LINKS, CloudEvent


async def cloudevent_json(message: KafkaMessage) -> object:
    """Portico sends structured CloudEvents (`application/cloudevents+json`): the body is the JSON envelope."""
    return json.loads(message.body)


def create_app(bootstrap_servers: str, database: Path, group_id: str) -> FastStream:
    broker = KafkaBroker(bootstrap_servers, client_id=group_id)
    mirror = ConnectionsMirror(database)

    # Offsets are committed after the handler returns; an error leaves the event to come again, which
    # is harmless because applying is idempotent by event id.
    @broker.subscriber(
        TOPIC_LINKS, TOPIC_CONNECTIONS, group_id=group_id, auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR, decoder=cloudevent_json,
    )
    async def on_event(event: CloudEvent) -> None:
        mirror.apply(event)

    app = FastStream(broker)
    app.after_shutdown(mirror.close)
    return app
