"""Postgres adapter for link-issuer: API keys, organizations, portal links, operators. SQL lives here only.

Every change and its event are written in one transaction (the outbox), so an organization or link
that exists always has its event on the way to Kafka, and an event never describes a rolled-back change.
"""
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from link_issuer.domain import Conflict, Organization, PortalLink
from link_issuer.operators import EmailTaken, Operator, Role
from portico_events import CloudEvent
from shared.outbox import enqueue_events, execute_with_events


async def find_api_key(pool: asyncpg.Pool, key_id: str) -> tuple[bytes, bool] | None:
    """(secret digest, revoked?) for a key id, or None."""
    row = await pool.fetchrow("SELECT secret_sha256, revoked_at FROM api_keys WHERE id = $1", key_id)
    return None if row is None else (bytes(row["secret_sha256"]), row["revoked_at"] is not None)


async def insert_api_key(
    pool: asyncpg.Pool, key_id: str, name: str, digest: bytes, events: Sequence[CloudEvent] = ()
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO api_keys (id, name, secret_sha256) VALUES ($1, $2, $3) RETURNING id, name, created_at, revoked_at",
            key_id, name, digest,
        )
        await enqueue_events(conn, events)
    return row


async def list_api_keys(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at")


async def revoke_api_key(pool: asyncpg.Pool, key_id: str, events: Sequence[CloudEvent] = ()) -> bool:
    """True when the key exists (revoked now or before); the events are queued only when revoked now."""
    async with pool.acquire() as conn, conn.transaction():
        revoked_now = await conn.fetchval(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING true", key_id
        )
        if revoked_now:
            await enqueue_events(conn, events)
            return True
        return bool(await conn.fetchval("SELECT true FROM api_keys WHERE id = $1", key_id))


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


_OPERATOR_COLUMNS = (
    "id, email, role, must_change_password, disabled_at, created_at, last_sign_in_at, sessions_revoked_at"
)


def _operator(row: asyncpg.Record) -> Operator:
    return Operator(
        id=row["id"],
        email=row["email"],
        role=Role(row["role"]),
        must_change_password=row["must_change_password"],
        disabled=row["disabled_at"] is not None,
        created_at=row["created_at"],
        last_sign_in_at=row["last_sign_in_at"],
        sessions_revoked_at=row["sessions_revoked_at"],
    )


async def insert_operator(
    pool: asyncpg.Pool, operator_id: str, email: str, role: Role, password_hash: str, created_by: str,
    events: Sequence[CloudEvent],
) -> Operator:
    async with pool.acquire() as conn, conn.transaction():
        try:
            row = await conn.fetchrow(
                f"""INSERT INTO operators (id, email, role, password_hash, must_change_password, created_by)
                    VALUES ($1, $2, $3, $4, true, $5) RETURNING {_OPERATOR_COLUMNS}""",
                operator_id, email, role.value, password_hash, created_by,
            )
        except asyncpg.UniqueViolationError:
            raise EmailTaken() from None
        await enqueue_events(conn, events)
    return _operator(row)


async def get_operator(pool: asyncpg.Pool, operator_id: str) -> Operator | None:
    row = await pool.fetchrow(f"SELECT {_OPERATOR_COLUMNS} FROM operators WHERE id = $1", operator_id)
    return None if row is None else _operator(row)


async def find_operator_by_email(pool: asyncpg.Pool, email: str) -> tuple[Operator, str] | None:
    """The operator and their password hash, for signing in."""
    row = await pool.fetchrow(f"SELECT {_OPERATOR_COLUMNS}, password_hash FROM operators WHERE email = $1", email)
    return None if row is None else (_operator(row), row["password_hash"])


async def operator_password_hash(pool: asyncpg.Pool, operator_id: str) -> str | None:
    return await pool.fetchval("SELECT password_hash FROM operators WHERE id = $1", operator_id)


async def list_operators(pool: asyncpg.Pool) -> list[Operator]:
    rows = await pool.fetch(f"SELECT {_OPERATOR_COLUMNS} FROM operators ORDER BY created_at, id")
    return [_operator(row) for row in rows]


async def record_sign_in(
    pool: asyncpg.Pool, operator_id: str, now: datetime, new_hash: str | None, events: Sequence[CloudEvent]
) -> None:
    """Stamp a successful sign-in (and store a re-hash under newer parameters when there is one)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE operators SET last_sign_in_at = $2, password_hash = coalesce($3, password_hash) WHERE id = $1",
            operator_id, now, new_hash,
        )
        await enqueue_events(conn, events)


async def record_events(pool: asyncpg.Pool, events: Sequence[CloudEvent]) -> None:
    """Queue events that describe no change of this database (a failed sign-in, an audit export)."""
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_events(conn, events)


async def set_operator_password(
    pool: asyncpg.Pool, operator_id: str, password_hash: str, must_change: bool, end_sessions_at: datetime | None,
    events: Sequence[CloudEvent],
) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.execute(
            """UPDATE operators SET password_hash = $2, must_change_password = $3,
                      sessions_revoked_at = coalesce($4, sessions_revoked_at)
               WHERE id = $1""",
            operator_id, password_hash, must_change, end_sessions_at,
        )
        if status != "UPDATE 1":
            return False
        await enqueue_events(conn, events)
    return True


async def disable_operator(
    pool: asyncpg.Pool, operator_id: str, now: datetime, events: Sequence[CloudEvent]
) -> bool | None:
    """True when disabled now, False when it already was, None when there is no such operator."""
    async with pool.acquire() as conn, conn.transaction():
        disabled = await conn.fetchval(
            """UPDATE operators SET disabled_at = $2, sessions_revoked_at = $2
               WHERE id = $1 AND disabled_at IS NULL RETURNING true""",
            operator_id, now,
        )
        if disabled:
            await enqueue_events(conn, events)
            return True
        return False if await conn.fetchval("SELECT true FROM operators WHERE id = $1", operator_id) else None


async def operator_emails(pool: asyncpg.Pool, operator_ids: Sequence[str]) -> dict[str, str]:
    rows = await pool.fetch("SELECT id, email FROM operators WHERE id = ANY($1::text[])", list(operator_ids))
    return {row["id"]: row["email"] for row in rows}
