"""Postgres adapter for accounts: API keys and operators. SQL lives here only; each change is written
with its event in one transaction (the outbox)."""
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from link_issuer.accounts.operators import EmailTaken, Operator, Role
from portico_events import CloudEvent
from shared.outbox import enqueue_events


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
    assert row is not None  # INSERT … RETURNING returns the row it inserted
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
    assert row is not None  # INSERT … RETURNING returns the row it inserted
    return _operator(row)


async def get_operator(pool: asyncpg.Pool, operator_id: str) -> Operator | None:
    row = await pool.fetchrow(f"SELECT {_OPERATOR_COLUMNS} FROM operators WHERE id = $1", operator_id)
    return None if row is None else _operator(row)


async def find_operator_by_email(pool: asyncpg.Pool, email: str) -> tuple[Operator, str] | None:
    """The operator and their password hash, for signing in."""
    row = await pool.fetchrow(f"SELECT {_OPERATOR_COLUMNS}, password_hash FROM operators WHERE email = $1", email)
    return None if row is None else (_operator(row), row["password_hash"])


async def operator_password_hash(pool: asyncpg.Pool, operator_id: str) -> str | None:
    password_hash: str | None = await pool.fetchval("SELECT password_hash FROM operators WHERE id = $1", operator_id)
    return password_hash


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
