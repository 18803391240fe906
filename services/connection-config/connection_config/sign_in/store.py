"""Postgres adapter for sign-in attempts, one-time codes and seen SAML assertions: the SQL of sign_in."""
import json
from datetime import datetime
from typing import Any

import asyncpg

from connection_config.sign_in.domain import Attempt
from shared.db import PgConnection

_COLUMNS = """id, organization_id, connection_id, connection_version, connection_type, kind, status, started_by,
              created_at, expires_at, redirect_uri, app_state, saml_request_id, oidc_nonce, verifier_key_id,
              verifier_ciphertext, finished_at, error_code, error_message, error_fix_in, error_expected,
              error_actual, profile, details"""


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _attempt(row: asyncpg.Record) -> Attempt:
    error = None
    if row["error_code"] is not None:
        error = {"code": row["error_code"], "message": row["error_message"], "fix_in": row["error_fix_in"]}
        for name in ("expected", "actual"):
            if row[f"error_{name}"] is not None:
                error[name] = json.loads(row[f"error_{name}"])
    return Attempt(
        id=row["id"], organization_id=row["organization_id"], connection_id=row["connection_id"],
        connection_version=row["connection_version"], connection_type=row["connection_type"], kind=row["kind"],
        status=row["status"], started_by=row["started_by"], created_at=row["created_at"],
        expires_at=row["expires_at"], redirect_uri=row["redirect_uri"], app_state=row["app_state"],
        saml_request_id=row["saml_request_id"], oidc_nonce=row["oidc_nonce"],
        verifier_key_id=row["verifier_key_id"],
        verifier_ciphertext=bytes(row["verifier_ciphertext"]) if row["verifier_ciphertext"] is not None else None,
        finished_at=row["finished_at"], error=error,
        profile=json.loads(row["profile"]) if row["profile"] is not None else None,
        details=json.loads(row["details"]) if row["details"] is not None else None,
    )


async def insert_attempt(db: asyncpg.Pool | PgConnection, attempt: Attempt) -> None:
    await db.execute(
        """INSERT INTO sign_in_attempts (id, organization_id, connection_id, connection_version, connection_type, kind,
               status, started_by, created_at, expires_at, redirect_uri, app_state, saml_request_id, oidc_nonce,
               verifier_key_id, verifier_ciphertext)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)""",
        attempt.id, attempt.organization_id, attempt.connection_id, attempt.connection_version,
        attempt.connection_type, attempt.kind, attempt.status, attempt.started_by, attempt.created_at,
        attempt.expires_at, attempt.redirect_uri, attempt.app_state, attempt.saml_request_id, attempt.oidc_nonce,
        attempt.verifier_key_id, attempt.verifier_ciphertext,
    )


async def restart_attempt(db: asyncpg.Pool | PgConnection, attempt: Attempt) -> bool:
    """A pending test's request to the IdP (a new one replaces the last); False if it is no longer pending."""
    status = await db.execute(
        """UPDATE sign_in_attempts SET saml_request_id = $2, oidc_nonce = $3, verifier_key_id = $4,
               verifier_ciphertext = $5, expires_at = $6, connection_version = $7
           WHERE id = $1 AND status = 'pending'""",
        attempt.id, attempt.saml_request_id, attempt.oidc_nonce, attempt.verifier_key_id,
        attempt.verifier_ciphertext, attempt.expires_at, attempt.connection_version,
    )
    return bool(status == "UPDATE 1")


async def find_attempt(
    db: asyncpg.Pool | PgConnection, attempt_id: str, *, organization_id: str | None = None,
    connection_id: str | None = None, for_update: bool = False,
) -> Attempt | None:
    row = await db.fetchrow(
        f"""SELECT {_COLUMNS} FROM sign_in_attempts
            WHERE id = $1 AND ($2::text IS NULL OR organization_id = $2) AND ($3::text IS NULL OR connection_id = $3)
            {'FOR UPDATE' if for_update else ''}""",
        attempt_id, organization_id, connection_id,
    )
    return _attempt(row) if row else None


async def finish_attempt(db: PgConnection, attempt: Attempt) -> None:
    """Record the outcome; the sealed PKCE verifier is dropped, it is of no use any more."""
    error = attempt.error or {}
    await db.execute(
        """UPDATE sign_in_attempts SET status = $2, finished_at = $3, error_code = $4, error_message = $5,
               error_fix_in = $6, error_expected = $7::jsonb, error_actual = $8::jsonb, profile = $9::jsonb,
               details = $10::jsonb, verifier_key_id = NULL, verifier_ciphertext = NULL
           WHERE id = $1""",
        attempt.id, attempt.status, attempt.finished_at, error.get("code"), error.get("message"),
        error.get("fix_in"), _json(error.get("expected")), _json(error.get("actual")), _json(attempt.profile),
        _json(attempt.details),
    )


async def insert_code(db: PgConnection, code_sha256: bytes, attempt_id: str, expires_at: datetime) -> None:
    await db.execute(
        "INSERT INTO sign_in_codes (code_sha256, attempt_id, expires_at) VALUES ($1, $2, $3)",
        code_sha256, attempt_id, expires_at,
    )


async def redeem_code(db: asyncpg.Pool | PgConnection, code_sha256: bytes, now: datetime) -> dict[str, Any] | None:
    """Mark the code used, once, if it is live; the profile of its sign-in, or None."""
    profile = await db.fetchval(
        """WITH used AS (
               UPDATE sign_in_codes SET used_at = $2
               WHERE code_sha256 = $1 AND used_at IS NULL AND expires_at > $2
               RETURNING attempt_id)
           SELECT a.profile FROM sign_in_attempts a JOIN used ON used.attempt_id = a.id
           WHERE a.kind = 'sign_in' AND a.status = 'succeeded'""",
        code_sha256, now,
    )
    return json.loads(profile) if profile is not None else None


class SeenAssertions:
    """accept_once's store on the caller's transaction: an assertion id is taken once until remember_until."""

    def __init__(self, db: PgConnection, now: datetime) -> None:
        self.db = db
        self.now = now

    async def first_use(self, connection_id: str, assertion_id: str, until: datetime) -> bool:
        taken = await self.db.fetchval(
            """INSERT INTO seen_assertions (connection_id, assertion_id, remember_until) VALUES ($1, $2, $3)
               ON CONFLICT (connection_id, assertion_id) DO UPDATE SET remember_until = EXCLUDED.remember_until
                   WHERE seen_assertions.remember_until < $4
               RETURNING true""",
            connection_id, assertion_id, until, self.now,
        )
        return bool(taken)


async def forget_old_assertions(db: asyncpg.Pool | PgConnection, now: datetime) -> None:
    await db.execute("DELETE FROM seen_assertions WHERE remember_until < $1", now)


async def list_attempts(
    db: asyncpg.Pool | PgConnection, organization_id: str, *, connection_id: str | None, kind: str | None,
    status: str | None, before: tuple[datetime, str] | None, limit: int,
) -> list[asyncpg.Record]:
    """An organization's attempts, newest first, after the cursor: what a list shows, never an answer's data."""
    return await db.fetch(
        """SELECT id, kind, status, connection_id, connection_version, organization_id, error_code, error_fix_in,
                  profile->>'idp_id' AS subject, profile->>'email' AS email, created_at, finished_at
           FROM sign_in_attempts
           WHERE organization_id = $1 AND ($2::text IS NULL OR connection_id = $2)
             AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR status = $4)
             AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::text))
           ORDER BY created_at DESC, id DESC LIMIT $7""",
        organization_id, connection_id, kind, status, before[0] if before else None, before[1] if before else None,
        limit,
    )
