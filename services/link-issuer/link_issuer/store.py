"""Postgres adapter for link-issuer: API keys, organizations, portal links. SQL lives here only.

Every change and its event are written in one transaction (the outbox), so an organization or link
that exists always has its event on the way to Kafka, and an event never describes a rolled-back change.
"""
from datetime import datetime

import asyncpg

from link_issuer.domain import Conflict, Organization, PortalLink
from portico_events import CloudEvent
from shared.outbox import enqueue_events


async def find_api_key(pool: asyncpg.Pool, key_id: str) -> tuple[bytes, bool] | None:
    """(secret digest, revoked?) for a key id, or None."""
    row = await pool.fetchrow("SELECT secret_sha256, revoked_at FROM api_keys WHERE id = $1", key_id)
    return None if row is None else (bytes(row["secret_sha256"]), row["revoked_at"] is not None)


async def insert_api_key(pool: asyncpg.Pool, key_id: str, name: str, digest: bytes) -> None:
    await pool.execute("INSERT INTO api_keys (id, name, secret_sha256) VALUES ($1, $2, $3)", key_id, name, digest)


async def list_api_keys(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at")


async def revoke_api_key(pool: asyncpg.Pool, key_id: str) -> bool:
    status = await pool.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", key_id
    )
    return status == "UPDATE 1"


def _organization(row: asyncpg.Record) -> Organization:
    return Organization(
        id=row["id"],
        display_name=row["display_name"],
        external_id=row["external_id"],
        allowed_frame_ancestors=list(row["allowed_frame_ancestors"]),
        created_at=row["created_at"],
    )


async def insert_organization(
    pool: asyncpg.Pool, organization: Organization, created_by: str, event: CloudEvent
) -> Organization:
    async with pool.acquire() as conn, conn.transaction():
        try:
            row = await conn.fetchrow(
                """INSERT INTO organizations (id, display_name, external_id, allowed_frame_ancestors, created_at, created_by)
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
                organization.id,
                organization.display_name,
                organization.external_id,
                organization.allowed_frame_ancestors,
                organization.created_at,
                created_by,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "external_id_taken", "Another organization already has this external_id.", "external_id"
            ) from None
        await enqueue_events(conn, [event])
    return _organization(row)


async def get_organization(pool: asyncpg.Pool, organization_id: str) -> Organization | None:
    row = await pool.fetchrow("SELECT * FROM organizations WHERE id = $1", organization_id)
    return None if row is None else _organization(row)


def _link(row: asyncpg.Record) -> PortalLink:
    return PortalLink(
        id=row["id"],
        organization_id=row["organization_id"],
        kind=row["kind"],
        expire_time=row["expire_time"],
        created_at=row["created_at"],
        revoked=row["revoked_at"] is not None,
        return_url=row["return_url"],
        success_url=row["success_url"],
    )


async def insert_link(
    pool: asyncpg.Pool, link: PortalLink, token_sha256: str, created_by: str, event: CloudEvent
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO portal_links
                   (id, organization_id, kind, token_sha256, expire_time, return_url, success_url, created_at, created_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            link.id,
            link.organization_id,
            link.kind,
            token_sha256,
            link.expire_time,
            link.return_url,
            link.success_url,
            link.created_at,
            created_by,
        )
        await enqueue_events(conn, [event])


async def list_links(pool: asyncpg.Pool, organization_id: str, limit: int = 200) -> list[PortalLink]:
    rows = await pool.fetch(
        "SELECT * FROM portal_links WHERE organization_id = $1 ORDER BY created_at DESC, id LIMIT $2",
        organization_id,
        limit,
    )
    return [_link(row) for row in rows]


async def revoke_link(
    pool: asyncpg.Pool, organization_id: str, link_id: str, revoked_by: str, now: datetime, event: CloudEvent
) -> bool | None:
    """True when revoked now, False when it already was, None when the organization has no such link."""
    async with pool.acquire() as conn, conn.transaction():
        revoked = await conn.fetchval(
            """UPDATE portal_links SET revoked_at = $4, revoked_by = $3
               WHERE id = $2 AND organization_id = $1 AND revoked_at IS NULL RETURNING true""",
            organization_id,
            link_id,
            revoked_by,
            now,
        )
        if revoked:
            await enqueue_events(conn, [event])
            return True
    exists = await pool.fetchval(
        "SELECT true FROM portal_links WHERE id = $2 AND organization_id = $1", organization_id, link_id
    )
    return False if exists else None
