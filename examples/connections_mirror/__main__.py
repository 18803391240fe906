"""`python -m examples.connections_mirror --database mirror.sqlite3`: run the mirror until SIGINT/SIGTERM."""
import argparse
import asyncio
import os
from pathlib import Path

from examples.connections_mirror.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.connections_mirror", description=__doc__)
    parser.add_argument("--database", type=Path, default=Path("connections-mirror.sqlite3"))
    parser.add_argument("--group-id", default="connections-mirror",
                        help="Kafka consumer group; a new group starts from the oldest retained event")
    parser.add_argument("--bootstrap-servers",
                        default=os.environ.get("PORTICO_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args()
    asyncio.run(create_app(args.bootstrap_servers, args.database, args.group_id).run())


if __name__ == "__main__":
    main()
