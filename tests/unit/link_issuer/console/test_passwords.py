"""Operator passwords: argon2id hashes, verified off the event loop, with a dummy hash for unknown accounts."""
import time

from argon2 import PasswordHasher

from link_issuer.console.auth import PasswordHashing

# Same algorithm (argon2id), cheaper parameters: these tests are about behaviour, not cost.
FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


async def test_hash_is_argon2id_and_verifies_only_the_right_password():
    hashing = PasswordHashing()
    stored = await hashing.hash("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert await hashing.verify(stored, "correct horse battery") == (True, False)
    assert await hashing.verify(stored, "wrong horse battery") == (False, False)


async def test_unknown_account_never_matches_and_costs_what_a_real_verification_costs():
    hashing = PasswordHashing(FAST)
    stored = await hashing.hash("correct horse battery")
    timings: dict[str, float] = {"known": 0.0, "unknown": 0.0}
    for _ in range(10):
        for name, candidate in (("known", stored), ("unknown", None)):
            started = time.perf_counter()
            assert (await hashing.verify(candidate, "wrong horse battery"))[0] is False
            timings[name] += time.perf_counter() - started
    assert await hashing.verify(None, "") == (False, False)
    assert 0.5 < timings["unknown"] / timings["known"] < 2.0, timings


async def test_a_corrupt_stored_hash_is_a_mismatch_not_an_error():
    assert await PasswordHashing(FAST).verify("not-a-hash", "anything") == (False, False)


async def test_a_hash_made_with_weaker_parameters_asks_to_be_rehashed():
    weak = FAST.hash("correct horse battery")
    assert await PasswordHashing().verify(weak, "correct horse battery") == (True, True)
