"""What the certificate-expiry gauges read from Postgres: among enabled SAML connections, each counted by its
latest-expiring certificate, the soonest expiry and how many fall within 14 days. Checked inside a transaction
that is rolled back (the live connections are set aside in it, so they cannot disturb the figures)."""
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from connection_config import store
from shared.db import create_pool
from shared.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def connections_db(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.connection_config_database_url.get_secret_value(), max_size=1)
    yield pool
    await pool.close()


async def add(db: asyncpg.Connection, connection_id: str, status: str, *expiries: timedelta, type_: str = "saml") -> None:
    document = {"certificates": [{"not_before": (NOW - timedelta(days=30)).isoformat(),
                                  "not_after": (NOW + expiry).isoformat()} for expiry in expiries]}
    await db.execute(
        """INSERT INTO connections (id, organization_id, type, provider, status, version, settings, created_at,
                                    created_by, updated_at, updated_by)
           VALUES ($1, 'org_certificate_expiry_test', $2, 'okta', $3, 1, $4::jsonb, $5, 'test', $5, 'test')""",
        connection_id, type_, status, json.dumps(document), NOW,
    )


async def test_the_soonest_latest_expiry_of_enabled_saml_connections_and_how_many_are_within_14_days(connections_db):
    async with connections_db.acquire() as db:
        transaction = db.transaction()
        await transaction.start()
        try:
            await db.execute("UPDATE connections SET status = 'disabled' WHERE status = 'enabled'")
            assert await store.certificate_expiry(db, timedelta(days=14)) == (None, 0)

            await add(db, "conn_rotated", "enabled", timedelta(days=3), timedelta(days=400))  # the new one counts
            await add(db, "conn_far", "enabled", timedelta(days=90))
            await add(db, "conn_disabled", "disabled", timedelta(days=1))
            await add(db, "conn_draft", "configured", timedelta(days=2))
            assert await store.certificate_expiry(db, timedelta(days=14)) == (NOW + timedelta(days=90), 0)

            await add(db, "conn_soon", "enabled", timedelta(days=10))
            await add(db, "conn_sooner", "enabled", timedelta(days=5), timedelta(days=6))
            assert await store.certificate_expiry(db, timedelta(days=14)) == (NOW + timedelta(days=6), 2)
        finally:
            await transaction.rollback()
