"""Operator console helpers for the integration tests: accounts made on link-issuer's database, signed-in clients."""
import uuid
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from link_issuer.accounts import admin
from link_issuer.console.store import address_failures_key
from shared.settings import Settings

PASSWORD = "a long and tested password"


@dataclass
class Operator:
    id: str
    email: str
    client: httpx.AsyncClient  # signed in, X-CSRF-Token set

    @property
    def cookie(self) -> str:
        return self.client.cookies["portico_console"]


def new_email(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:10]}@example.com"


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/console/api/session", json={"email": email, "password": password})


async def create_account(settings: Settings, role: str) -> tuple[str, str, str]:
    """(operator id, email, one-time password)."""
    operator, password = await admin.create_operator(settings, new_email(role), role)
    return operator.id, operator.email, password


async def signed_in(settings: Settings, role: str) -> Operator:
    """A new operator of `role` who has signed in and replaced the one-time password."""
    operator_id, email, one_time = await create_account(settings, role)
    client = httpx.AsyncClient(base_url=settings.public_url, timeout=30)
    answer = await sign_in(client, email, one_time)
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    changed = await client.post("/console/api/password", json={"current_password": one_time, "new_password": PASSWORD})
    assert changed.status_code == 200, changed.text
    client.headers["X-CSRF-Token"] = changed.json()["csrf_token"]  # a new session replaced the first
    return Operator(operator_id, email, client)


async def forget_loopback_failures(redis: Redis) -> None:
    """Every test signs in from 127.0.0.1: start from a clean per-address count so earlier runs cannot lock it."""
    await redis.delete(address_failures_key("127.0.0.1"))
