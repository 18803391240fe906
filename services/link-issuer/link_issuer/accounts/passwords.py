"""Operator passwords: argon2id hashing and verification, bounded in how many run at once."""
import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.errors import RetryLater


class Busy(RetryLater):
    def __init__(self) -> None:
        super().__init__("busy", "Too many sign-ins at once; try again in a moment.", 1, status=503)


class PasswordHashing:
    """argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile), off the event loop.

    Each hash or verification takes 64 MiB for its duration, so at most `slots` run at once (2: 128 MiB
    over the ~90 MB an idle link-issuer uses, inside the chart's 384Mi limit) and at most `waiting` more
    queue for a slot; beyond that the request is refused with Busy rather than holding memory or a thread.
    """

    def __init__(self, hasher: PasswordHasher | None = None, slots: int = 2, waiting: int = 32) -> None:
        self._hasher = hasher or PasswordHasher()
        # Verified against when there is no account, so an unknown email costs what a real one does.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self._slots = asyncio.Semaphore(slots)
        self._capacity = slots + waiting
        self._admitted = 0

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._admitted >= self._capacity:
            raise Busy()
        self._admitted += 1
        try:
            async with self._slots:
                yield
        finally:
            self._admitted -= 1

    def hash_now(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        async with self._slot():
            return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        try:
            self._hasher.verify(stored or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return False, False
        return stored is not None, stored is not None and self._hasher.check_needs_rehash(stored)

    async def verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        """(matches, needs a re-hash under current parameters); with no stored hash, never matches."""
        async with self._slot():
            return await asyncio.to_thread(self._verify, stored, password)
