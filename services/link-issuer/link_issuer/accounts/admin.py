"""Administration of API keys and operator accounts: one implementation for the console (an admin operator
as the actor) and for `portico api-keys …` / `portico operators …`, which work on link-issuer's database
directly (actor: system `portico-cli`), so the first key and the first admin need neither."""
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import asyncpg

from link_issuer.accounts import store
from link_issuer.accounts.operators import Operator, OperatorNotFound, normalize_email, one_time_password, parse_role
from link_issuer.accounts.passwords import PasswordHashing
from link_issuer.domain import API_KEY_SEPARATOR, secret_digest
from portico_events import (
    Actor,
    ApiKeyCreated,
    ApiKeyRevoked,
    CloudEvent,
    EventData,
    OperatorCreated,
    OperatorDisabled,
    OperatorPasswordReset,
)
from shared.db import apply_migrations, create_pool
from shared.errors import DomainError
from shared.ids import new_id
from shared.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
SOURCE = "/portico/link-issuer/admin"
CLI_ACTOR = Actor(kind="system", id="portico-cli")
T = TypeVar("T")


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def _event(data: EventData) -> CloudEvent:
    return CloudEvent.wrap(data, source=SOURCE, time=datetime.now(UTC))


async def issue_api_key(pool: asyncpg.Pool, name: str, actor: Actor) -> tuple[ApiKeyInfo, str]:
    """Make a key; return it and the full key, which is shown once and never stored."""
    key_id = new_id("key")
    secret = secrets.token_urlsafe(32)
    row = await store.insert_api_key(
        pool, key_id, name, secret_digest(secret), [_event(ApiKeyCreated(api_key_id=key_id, name=name, actor=actor))]
    )
    return ApiKeyInfo(row["id"], row["name"], row["created_at"], row["revoked_at"]), f"{key_id}{API_KEY_SEPARATOR}{secret}"


async def api_keys(pool: asyncpg.Pool) -> list[ApiKeyInfo]:
    return [ApiKeyInfo(r["id"], r["name"], r["created_at"], r["revoked_at"]) for r in await store.list_api_keys(pool)]


async def withdraw_api_key(pool: asyncpg.Pool, key_id: str, actor: Actor) -> bool:
    """False when there is no such key; revoking a revoked key is fine."""
    return await store.revoke_api_key(pool, key_id, [_event(ApiKeyRevoked(api_key_id=key_id, actor=actor))])


async def add_operator(
    pool: asyncpg.Pool, hashing: PasswordHashing, email: str, role: str, actor: Actor
) -> tuple[Operator, str]:
    """Create an account with a one-time password (returned once) that must be changed at first sign-in."""
    address, parsed_role = normalize_email(email), parse_role(role)
    operator_id = new_id("opr")
    password = one_time_password(secrets.token_bytes)
    event = _event(OperatorCreated(operator_id=operator_id, email=address, role=parsed_role.value, actor=actor))
    created = await store.insert_operator(
        pool, operator_id, address, parsed_role, await hashing.hash(password), actor.reference, [event]
    )
    return created, password


async def find_operator(pool: asyncpg.Pool, reference: str) -> Operator:
    """An operator by id (`opr_…`) or by email."""
    if reference.startswith("opr_"):
        found = await store.get_operator(pool, reference)
    else:
        try:
            by_email = await store.find_operator_by_email(pool, normalize_email(reference))
        except DomainError:
            by_email = None
        found = by_email[0] if by_email else None
    if found is None:
        raise OperatorNotFound(reference)
    return found


async def disable_operator(pool: asyncpg.Pool, reference: str, actor: Actor) -> Operator:
    """Disable an account and end its console sessions; disabling a disabled account is fine."""
    operator = await find_operator(pool, reference)
    event = _event(OperatorDisabled(operator_id=operator.id, actor=actor))
    if await store.disable_operator(pool, operator.id, datetime.now(UTC), [event]) is None:
        raise OperatorNotFound(reference)
    return operator


async def reset_operator_password(
    pool: asyncpg.Pool, hashing: PasswordHashing, reference: str, actor: Actor
) -> tuple[Operator, str]:
    """A new one-time password (returned once); the old one stops working and their sessions end."""
    operator = await find_operator(pool, reference)
    password = one_time_password(secrets.token_bytes)
    event = _event(OperatorPasswordReset(operator_id=operator.id, actor=actor))
    changed = await store.set_operator_password(
        pool, operator.id, await hashing.hash(password), True, datetime.now(UTC), [event]
    )
    if not changed:
        raise OperatorNotFound(reference)
    return operator, password


async def operators(pool: asyncpg.Pool) -> list[Operator]:
    return await store.list_operators(pool)


async def _on_database(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `work` on a small pool on link-issuer's database, migrated, so these commands work before the
    service ever ran."""
    pool = await create_pool(settings.link_issuer_database_url.get_secret_value(), min_size=1, max_size=2)
    try:
        await apply_migrations(pool, "link_issuer", MIGRATIONS)
        return await work(pool)
    finally:
        await pool.close()


async def create_api_key(settings: Settings, name: str) -> tuple[str, str]:
    """(key id, the full key) — for `portico api-keys create` and the tests' fixture."""
    info, key = await _on_database(settings, lambda pool: issue_api_key(pool, name, CLI_ACTOR))
    return info.id, key


async def list_api_keys(settings: Settings) -> list[ApiKeyInfo]:
    return await _on_database(settings, api_keys)


async def revoke_api_key(settings: Settings, key_id: str) -> bool:
    return await _on_database(settings, lambda pool: withdraw_api_key(pool, key_id, CLI_ACTOR))


async def create_operator(settings: Settings, email: str, role: str) -> tuple[Operator, str]:
    return await _on_database(settings, lambda pool: add_operator(pool, PasswordHashing(), email, role, CLI_ACTOR))


async def list_operators(settings: Settings) -> list[Operator]:
    return await _on_database(settings, operators)


async def disable_operator_account(settings: Settings, reference: str) -> Operator:
    return await _on_database(settings, lambda pool: disable_operator(pool, reference, CLI_ACTOR))


async def reset_password(settings: Settings, reference: str) -> tuple[Operator, str]:
    return await _on_database(
        settings, lambda pool: reset_operator_password(pool, PasswordHashing(), reference, CLI_ACTOR)
    )
