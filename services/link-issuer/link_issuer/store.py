"""Postgres adapter for link issuing: organizations and portal links. SQL lives here only.

Every change and its event are written in one transaction (the outbox), so an organization or link
that exists always has its event on the way to Kafka, and an event never describes a rolled-back change.
"""
from datetime import datetime

import asyncpg

from link_issuer.domain import Organization, PortalLink
from portico_events import CloudEvent
from shared.errors import Conflict
from shared.outbox import enqueue_events, execute_with_events


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
    assert row is not None  # INSERT … RETURNING returns the row it inserted
    return _organization(row)


async def get_organization(pool: asyncpg.Pool, organization_id: str) -> Organization | None:
    row = await pool.fetchrow("SELECT * FROM organizations WHERE id = $1", organization_id)
    return None if row is None else _organization(row)


async def search_organizations(
    pool: asyncpg.Pool, text: str | None, after: tuple[datetime, str] | None, limit: int
) -> list[Organization]:
    """Newest first; `text` matches display_name or external_id anywhere, ignoring case; keyset pages."""
    pattern = None if not text else "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await pool.fetch(
        """SELECT * FROM organizations
           WHERE ($1::text IS NULL OR display_name ILIKE $1 OR external_id ILIKE $1)
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
           ORDER BY created_at DESC, id DESC LIMIT $4""",
        pattern,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_organization(row) for row in rows]


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
        created_by=row["created_by"],
        revoked_at=row["revoked_at"],
        used_at=row["used_at"],
    )


async def insert_link(
    pool: asyncpg.Pool, link: PortalLink, token_sha256: str, created_by: str, event: CloudEvent
) -> None:
    await execute_with_events(
        pool,
        """INSERT INTO portal_links
               (id, organization_id, kind, token_sha256, expire_time, return_url, success_url, created_at, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        (
            link.id,
            link.organization_id,
            link.kind,
            token_sha256,
            link.expire_time,
            link.return_url,
            link.success_url,
            link.created_at,
            created_by,
        ),
        [event],
    )


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


async def redeem_link(pool: asyncpg.Pool, link_id: str, token_sha256: str, now: datetime) -> tuple[PortalLink, bool] | None:
    """(the link, whether this call used it): a live magic link is used by the first call, decided by the row
    lock, so single use holds whatever Redis remembers. None when no link has this id and token."""
    row = await pool.fetchrow(
        """UPDATE portal_links SET used_at = $3
           WHERE id = $1 AND token_sha256 = $2 AND kind = 'magic'
             AND used_at IS NULL AND revoked_at IS NULL AND expire_time > $3
           RETURNING *""",
        link_id, token_sha256, now,
    )
    if row is not None:
        return _link(row), True
    # A separate statement, so it sees a concurrent redemption that won the row (READ COMMITTED).
    row = await pool.fetchrow("SELECT * FROM portal_links WHERE id = $1 AND token_sha256 = $2", link_id, token_sha256)
    return None if row is None else (_link(row), False)


async def record_links_used(pool: asyncpg.Pool, redeemed: dict[str, datetime]) -> int:
    """Remember links' first redemptions; how many were recorded now (redelivered events change nothing)."""
    status = await pool.execute(
        """UPDATE portal_links SET used_at = r.used_at
           FROM unnest($1::text[], $2::timestamptz[]) AS r (id, used_at)
           WHERE portal_links.id = r.id AND portal_links.used_at IS NULL""",
        list(redeemed), list(redeemed.values()),
    )
    return int(status.split()[-1])
