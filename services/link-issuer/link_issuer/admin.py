"""Administration that needs no API key: what `portico api-keys …` does on link-issuer's own database."""
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from link_issuer import store
from link_issuer.domain import API_KEY_SEPARATOR, secret_digest
from shared.db import apply_migrations, create_pool
from shared.ids import new_id
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


async def _with_pool(settings: Settings) -> asyncpg.Pool:
    """A small pool on link-issuer's database, migrated, so these commands work before the service ever ran."""
    pool = await create_pool(settings.link_issuer_database_url.get_secret_value(), min_size=1, max_size=2)
    await apply_migrations(pool, "link_issuer", MIGRATIONS)
    return pool


async def create_api_key(settings: Settings, name: str) -> tuple[str, str]:
    """Make a key; return (key id, the full key). The full key is shown once and never stored."""
    key_id = new_id("key")
    secret = secrets.token_urlsafe(32)
    pool = await _with_pool(settings)
    try:
        await store.insert_api_key(pool, key_id, name, secret_digest(secret))
    finally:
        await pool.close()
    return key_id, f"{key_id}{API_KEY_SEPARATOR}{secret}"


async def list_api_keys(settings: Settings) -> list[ApiKeyInfo]:
    pool = await _with_pool(settings)
    try:
        return [ApiKeyInfo(r["id"], r["name"], r["created_at"], r["revoked_at"]) for r in await store.list_api_keys(pool)]
    finally:
        await pool.close()


async def revoke_api_key(settings: Settings, key_id: str) -> bool:
    pool = await _with_pool(settings)
    try:
        return await store.revoke_api_key(pool, key_id)
    finally:
        await pool.close()
