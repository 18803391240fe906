"""Console sign-in under guessing: 20 wrong passwords lock the account (even the right password is refused
until the lockout ends), an address that fails too often is locked too, and an unknown email gets the same
answer in the same time class as a wrong password.

The lockout lasts PORTICO_CONSOLE_LOCKOUT_SECONDS (15 minutes); rather than wait, the tests read the lock's
time to live in Redis and then shorten it, which is exactly what the passing of time does to it.
"""
import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from link_issuer.console.store import account_failures_key, address_failures_key
from shared.settings import Settings
from tests.integration.console import create_account, sign_in

LOCKOUT_S = 15 * 60


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=60) as browser:
        yield browser


async def test_twenty_wrong_passwords_lock_the_account_until_the_lockout_ends(
    settings: Settings, client: httpx.AsyncClient, redis_client: Redis
):
    _, email, password = await create_account(settings, "support")
    answers = [await sign_in(client, email, f"wrong guess number {n}") for n in range(20)]
    assert [a.status_code for a in answers[:19]] == [401] * 19
    assert {a.json()["error"]["code"] for a in answers[:19]} == {"invalid_credentials"}
    locked = answers[19]
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked_out"
    assert locked.json()["error"]["message"] == "Too many failed sign-ins. Sign-in is locked; try again in 15 minutes."
    assert int(locked.headers["retry-after"]) == LOCKOUT_S

    refused = await sign_in(client, email, password)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "locked_out"
    assert 0 < int(refused.headers["retry-after"]) <= LOCKOUT_S
    lock = account_failures_key(email)
    assert LOCKOUT_S - 120 < await redis_client.ttl(lock) <= LOCKOUT_S

    await redis_client.pexpire(lock, 300)  # the lockout ends
    await asyncio.sleep(0.5)
    opened = await sign_in(client, email, password)
    assert opened.status_code == 200, opened.text


async def test_an_address_that_fails_too_often_is_locked_for_every_account(
    settings: Settings, client: httpx.AsyncClient, redis_client: Redis
):
    _, email, password = await create_account(settings, "auditor")
    address = address_failures_key("127.0.0.1")
    # As if this address had already failed 99 times with other emails within the window.
    await redis_client.set(address, settings.console_lockout_address_failures - 1, ex=LOCKOUT_S)
    try:
        hit = await sign_in(client, f"someone-{uuid.uuid4().hex[:8]}@example.com", "a guess")
        assert hit.status_code == 429 and hit.json()["error"]["code"] == "locked_out"
        refused = await sign_in(client, email, password)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    finally:
        await redis_client.delete(address)
    assert (await sign_in(client, email, password)).status_code == 200


async def test_unknown_email_gets_the_same_answer_in_the_same_time_class(
    settings: Settings, client: httpx.AsyncClient
):
    _, email, _ = await create_account(settings, "support")
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    bodies: dict[str, set[str]] = {"known": set(), "unknown": set()}
    for _ in range(6):
        for name, address in (("known", email), ("unknown", unknown)):
            started = time.perf_counter()
            answer = await sign_in(client, address, "not the password")
            timings[name].append(time.perf_counter() - started)
            assert answer.status_code == 401
            bodies[name].add(answer.text)
    assert bodies["known"] == bodies["unknown"] == {
        '{"error":{"code":"invalid_credentials","message":"Email or password is incorrect."}}'}
    known, missing = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    # Both pay one argon2id verification; a skipped hash would make the unknown email several times faster.
    assert 0.5 < missing / known < 2.0, timings
