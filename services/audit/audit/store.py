"""Postgres adapter for the audit log: SQL lives here and nowhere else."""
import json

import asyncpg

from shared.events import CloudEvent


async def append_event(pool: asyncpg.Pool, event: CloudEvent) -> bool:
    """Record an event once; a redelivered event id is recognised and ignored. True if it was new."""
    status = await pool.execute(
        """INSERT INTO audit_log (event_id, event_type, organization_id, event_time, source, data)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb)
           ON CONFLICT (event_id) DO NOTHING""",
        event.id,
        event.type,
        event.subject,
        event.time,
        event.source,
        json.dumps(event.data),
    )
    return status == "INSERT 0 1"
