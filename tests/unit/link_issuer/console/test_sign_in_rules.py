"""Console sign-in rules without servers: what a failed sign-in records as the typed email, and how many
argon2 computations may run or wait at once."""
import asyncio
import threading

import pytest
from argon2 import PasswordHasher

from link_issuer.accounts.operators import looks_like_email
from link_issuer.console.auth import Busy, PasswordHashing, typed_email

KEY = b"k" * 32


@pytest.mark.parametrize("value", ["ada@example.com", "  Ada.Lovelace+console@Mail.Example.co.uk ",
                                   "o'brien@xn--bcher-kva.example"])
def test_an_email_address_is_recorded_as_typed_but_normalised(value: str):
    assert looks_like_email(value)
    assert typed_email(value, KEY) == value.strip().lower()


@pytest.mark.parametrize("value", ["P@ssw0rd.123", "hunter2", "correct horse battery staple", "ada@example",
                                   "ada@example.c", "ada @example.com", "Tr0ub4dor&3", "", "a" * 250 + "@example.com"])
def test_a_value_that_is_no_email_address_is_recorded_as_a_keyed_fingerprint(value: str):
    assert not looks_like_email(value)
    recorded = typed_email(value, KEY)
    prefix, _, digest = recorded.partition(":")
    assert prefix == "hmac-sha256" and len(digest) == 16 and int(digest, 16) >= 0
    assert not value.strip() or value.strip() not in recorded


def test_fingerprints_tell_repeats_apart_but_depend_on_the_key():
    assert typed_email("P@ssw0rd.123", KEY) == typed_email("P@ssw0rd.123", KEY)
    assert typed_email("P@ssw0rd.123", KEY) != typed_email("P@ssw0rd.124", KEY)
    assert typed_email("P@ssw0rd.123", KEY) != typed_email("P@ssw0rd.123", b"another key" * 3)


class HeldHasher(PasswordHasher):
    """Cheap argon2id whose verifications wait for `release`, counting how many run at the same time."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8 * 1024, parallelism=1)
        self.release = threading.Event()
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            self.release.wait(10)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


async def test_verifications_beyond_the_slots_wait_and_beyond_the_queue_are_refused_as_busy():
    hasher = HeldHasher()
    hashing = PasswordHashing(hasher, slots=2, waiting=3)
    admitted = [asyncio.create_task(hashing.verify(None, f"guess {n}")) for n in range(5)]
    await asyncio.sleep(0.2)
    with pytest.raises(Busy) as refused:
        await hashing.verify(None, "one too many")
    assert (refused.value.status, refused.value.code, refused.value.retry_after_s) == (503, "busy", 1)
    with pytest.raises(Busy):
        await hashing.hash("one too many")

    hasher.release.set()
    assert await asyncio.wait_for(asyncio.gather(*admitted), 10) == [(False, False)] * 5
    assert hasher.most_running == 2
    assert await hashing.verify(None, "after the burst") == (False, False)  # the queue drained
