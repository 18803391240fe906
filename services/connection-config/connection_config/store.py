"""Postgres adapter for connections, their versions and known organizations: SQL lives here and nowhere else."""
import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from connection_config.model import (
    AttributeMapping,
    Certificate,
    ConfigWarning,
    Connection,
    FieldChange,
    OidcSettings,
    SamlSettings,
    SealedSecret,
)
from shared.db import PgConnection

_COLUMNS = """id, organization_id, type, provider, status, version, settings, notes, secret_key_id,
              secret_ciphertext, created_at, created_by, updated_at, updated_by"""
# Read with every connection, derived from its history: the version of its current IdP settings, and the
# latest version a connection test succeeded on (both served by the tables' primary key and connection index).
_DERIVED = """(SELECT max(v.version) FROM connection_versions v
               WHERE v.connection_id = connections.id AND v.action IN ('created', 'updated')) AS settings_version,
              (SELECT max(a.connection_version) FROM sign_in_attempts a
               WHERE a.connection_id = connections.id AND a.kind = 'test' AND a.status = 'succeeded') AS tested_version"""


def _settings_document(connection: Connection) -> dict[str, Any]:
    if connection.saml is not None:
        saml = connection.saml
        return {
            "idp_entity_id": saml.idp_entity_id,
            "sso_url": saml.sso_url,
            "sso_binding": saml.sso_binding,
            "certificates": [
                {
                    "pem": cert.pem,
                    "fingerprint_sha256": cert.fingerprint_sha256,
                    "subject": cert.subject,
                    "not_before": cert.not_before.isoformat(),
                    "not_after": cert.not_after.isoformat(),
                }
                for cert in saml.certificates
            ],
            "name_id_format": saml.name_id_format,
            "attribute_mapping": dict(vars(saml.attribute_mapping)),
            "metadata_url": saml.metadata_url,
        }
    oidc = connection.oidc or OidcSettings()
    return {
        "issuer": oidc.issuer,
        "client_id": oidc.client_id,
        "scopes": list(oidc.scopes),
        "authorization_endpoint": oidc.authorization_endpoint,
        "token_endpoint": oidc.token_endpoint,
        "jwks_uri": oidc.jwks_uri,
        "userinfo_endpoint": oidc.userinfo_endpoint,
    }


def _connection(row: asyncpg.Record) -> Connection:
    document = json.loads(row["settings"])
    saml_settings = oidc_settings = None
    if row["type"] == "saml":
        certificates = tuple(
            Certificate(
                pem=cert["pem"],
                fingerprint_sha256=cert["fingerprint_sha256"],
                subject=cert["subject"],
                not_before=datetime.fromisoformat(cert["not_before"]),
                not_after=datetime.fromisoformat(cert["not_after"]),
            )
            for cert in document["certificates"]
        )
        saml_settings = SamlSettings(
            **{**document, "certificates": certificates,
               "attribute_mapping": AttributeMapping(**document["attribute_mapping"])}
        )
    else:
        oidc_settings = OidcSettings(**{**document, "scopes": tuple(document["scopes"])})
    secret = (
        SealedSecret(key_id=row["secret_key_id"], ciphertext=bytes(row["secret_ciphertext"]))
        if row["secret_key_id"] is not None else None
    )
    return Connection(
        id=row["id"],
        organization_id=row["organization_id"],
        type=row["type"],
        provider=row["provider"],
        status=row["status"],
        version=row["version"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
        saml=saml_settings,
        oidc=oidc_settings,
        client_secret=secret,
        notes=tuple(ConfigWarning(**note) for note in json.loads(row["notes"])),
        settings_version=row["settings_version"] or row["version"],
        tested_version=row["tested_version"],
    )


def _row_values(connection: Connection) -> tuple[Any, ...]:
    secret = connection.client_secret
    return (
        connection.id,
        connection.organization_id,
        connection.type,
        connection.provider,
        connection.status,
        connection.version,
        json.dumps(_settings_document(connection)),
        json.dumps([note.as_dict() for note in connection.notes]),
        secret.key_id if secret else None,
        secret.ciphertext if secret else None,
        connection.created_at,
        connection.created_by,
        connection.updated_at,
        connection.updated_by,
    )


async def record_organization(
    pool: asyncpg.Pool, organization_id: str, display_name: str, created_at: datetime, event_id: str
) -> bool:
    """Remember an organization once, whatever Kafka redelivers. True if it was new."""
    status = await pool.execute(
        """INSERT INTO organizations (id, display_name, created_at, source_event_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO NOTHING""",
        organization_id, display_name, created_at, event_id,
    )
    return status == "INSERT 0 1"


async def organization_exists(db: asyncpg.Pool | PgConnection, organization_id: str) -> bool:
    return bool(await db.fetchval("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)", organization_id))


async def list_connections(db: PgConnection, organization_id: str) -> list[Connection]:
    rows = await db.fetch(
        f"""SELECT {_COLUMNS}, {_DERIVED} FROM connections WHERE organization_id = $1 AND status <> 'deleted'
            ORDER BY created_at, id""",
        organization_id,
    )
    return [_connection(row) for row in rows]


async def find_connection(
    db: asyncpg.Pool | PgConnection, connection_id: str, *, organization_id: str | None = None,
    for_update: bool = False,
) -> Connection | None:
    """A live connection by id, only within `organization_id` when given (another org's is not found)."""
    row = await db.fetchrow(
        f"""SELECT {_COLUMNS}, {_DERIVED} FROM connections
            WHERE id = $1 AND ($2::text IS NULL OR organization_id = $2) AND status <> 'deleted'
            {'FOR UPDATE' if for_update else ''}""",
        connection_id, organization_id,
    )
    return _connection(row) if row else None


async def lock_organization_connections(db: PgConnection, organization_id: str) -> int:
    """Serialise creations in one organization (for its limit) and return how many connections it has."""
    await db.execute("SELECT pg_advisory_xact_lock(hashtext('portico.connections:' || $1))", organization_id)
    count: int = await db.fetchval(
        "SELECT count(*) FROM connections WHERE organization_id = $1 AND status <> 'deleted'", organization_id
    )
    return count


async def insert_connection(db: PgConnection, connection: Connection) -> None:
    await db.execute(
        f"INSERT INTO connections ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13, $14)",
        *_row_values(connection),
    )


async def save_connection(db: PgConnection, connection: Connection) -> None:
    secret = connection.client_secret
    await db.execute(
        """UPDATE connections SET provider = $2, status = $3, version = $4, settings = $5::jsonb, notes = $6::jsonb,
               secret_key_id = $7, secret_ciphertext = $8, updated_at = $9, updated_by = $10
           WHERE id = $1""",
        connection.id,
        connection.provider,
        connection.status,
        connection.version,
        json.dumps(_settings_document(connection)),
        json.dumps([note.as_dict() for note in connection.notes]),
        secret.key_id if secret else None,
        secret.ciphertext if secret else None,
        connection.updated_at,
        connection.updated_by,
    )


async def append_version(
    db: PgConnection, connection: Connection, action: str, changes: list[FieldChange]
) -> None:
    await db.execute(
        """INSERT INTO connection_versions (connection_id, version, organization_id, action, changed_at, changed_by, changes)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)""",
        connection.id, connection.version, connection.organization_id, action, connection.updated_at,
        connection.updated_by, json.dumps([change.as_dict() for change in changes]),
    )


async def list_versions(db: asyncpg.Pool | PgConnection, connection_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """SELECT version, action, changed_at, changed_by, changes FROM connection_versions
           WHERE connection_id = $1 ORDER BY version""",
        connection_id,
    )
    return [{**dict(row), "changes": json.loads(row["changes"])} for row in rows]


async def certificate_expiry(db: asyncpg.Pool | PgConnection, within: timedelta) -> tuple[datetime | None, int]:
    """The soonest of the enabled SAML connections' latest certificate expiries, and how many of those fall
    within `within` from now."""
    next_expiry, expiring = (await db.fetch(
        """SELECT min(latest) AS next_expiry, count(*) FILTER (WHERE latest < now() + $1::interval) AS expiring
           FROM (SELECT max((cert->>'not_after')::timestamptz) AS latest
                 FROM connections, jsonb_array_elements(settings->'certificates') AS cert
                 WHERE type = 'saml' AND status = 'enabled'
                 GROUP BY id) AS per_connection""",
        within,
    ))[0]
    return next_expiry, expiring
