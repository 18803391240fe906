"""The local copy, in SQLite: organizations and connections as the events describe them (no I/O but the file).

Connection events carry ids, type, provider, status, version and (for updates) the changed field names,
never the settings themselves, so that is what the mirror holds; fetch a connection's full settings
from the management API when you need them. Applying an event is idempotent by event id, and an event
older than what the mirror holds (a redelivery, a replay) changes nothing: versions only go up.
"""
import json
import sqlite3
from pathlib import Path
from typing import Any

from portico_events import CloudEvent, ConnectionEvent, ConnectionUpdated, OrganizationCreated, UnknownEventType

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_events (event_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS organizations (id TEXT PRIMARY KEY, display_name TEXT NOT NULL, external_id TEXT);
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    type TEXT NOT NULL,
    provider TEXT NOT NULL,
    status TEXT NOT NULL,          -- 'deleted' rows are tombstones: a replayed older event cannot revive them
    version INTEGER NOT NULL,
    changed_fields TEXT NOT NULL,  -- JSON list: what the last update changed
    updated_at TEXT NOT NULL
);
"""


class ConnectionsMirror:
    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)  # explicit transactions below
        self._db.execute("PRAGMA journal_mode=WAL")  # readers (another process) never block the consumer
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def apply(self, event: CloudEvent) -> bool:
        """Apply one event; False when it was already applied or says nothing the mirror keeps."""
        try:
            model = event.model()
        except UnknownEventType:
            return False  # a type newer than this consumer: skip it rather than stop the partition
        if event.dataversion != model.event_version:
            return False  # a data version this consumer was not written for
        data = event.typed_data()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            seen = self._db.execute("INSERT OR IGNORE INTO processed_events VALUES (?)", (event.id,)).rowcount == 0
            if not seen:
                if isinstance(data, OrganizationCreated):
                    self._db.execute(
                        "INSERT OR REPLACE INTO organizations VALUES (?, ?, ?)",
                        (data.organization_id, data.display_name, data.external_id),
                    )
                elif isinstance(data, ConnectionEvent):
                    self._apply_connection(data, event)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return not seen

    def _apply_connection(self, data: ConnectionEvent, event: CloudEvent) -> None:
        changed = data.changed_fields if isinstance(data, ConnectionUpdated) else []
        self._db.execute(
            """
            INSERT INTO connections VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                provider = excluded.provider, status = excluded.status, version = excluded.version,
                changed_fields = excluded.changed_fields, updated_at = excluded.updated_at
            WHERE excluded.version > connections.version
            """,
            (data.connection_id, data.organization_id, data.connection_type, data.provider, data.status,
             data.version, json.dumps(changed), event.time.isoformat()),
        )

    def connections(self, organization_id: str) -> list[dict[str, Any]]:
        """The organization's live connections (deleted ones left out), by id."""
        rows = self._db.execute(
            "SELECT id, type, provider, status, version, changed_fields FROM connections"
            " WHERE organization_id = ? AND status != 'deleted' ORDER BY id",
            (organization_id,),
        ).fetchall()
        return [
            {"id": i, "type": t, "provider": p, "status": s, "version": v, "changed_fields": json.loads(c)}
            for i, t, p, s, v, c in rows
        ]

    def organization(self, organization_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT id, display_name, external_id FROM organizations WHERE id = ?",
                               (organization_id,)).fetchone()
        return None if row is None else {"id": row[0], "display_name": row[1], "external_id": row[2]}
