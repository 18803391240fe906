"""Operator sign-in for the console: argon2id passwords, lockout, Redis-backed sessions, CSRF, `current_operator`.

An unknown email, a disabled account and a wrong password get the same answer after the same work
(an argon2 verification, against a dummy hash when there is no account), and count towards the same
lockout, so neither the answer nor its timing says whether an account exists.
"""
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
from fastapi import Request, Response

from link_issuer.accounts import store
from link_issuer.accounts.operators import (
    EMAIL_MAX_LENGTH,
    LockoutPolicy,
    Operator,
    check_new_password,
    lockout_message,
    looks_like_email,
    normalize_email,
)
from link_issuer.accounts.passwords import Busy, PasswordHashing
from link_issuer.console.store import Attempt, ConsoleStore
from portico_events import (
    Actor,
    CloudEvent,
    EventData,
    OperatorPasswordChanged,
    OperatorSignedIn,
    OperatorSignedOut,
    OperatorSignInFailed,
)
from shared.errors import DomainError, RetryLater, Unauthenticated
from shared.ids import Clock
from shared.net import is_loopback_host
from shared.outbox import record_events
from shared.settings import Settings

SOURCE = "/portico/link-issuer/console"
COOKIE = "portico_console"
COOKIE_PATH = "/console"
CSRF_HEADER = "X-CSRF-Token"
INVALID_CREDENTIALS = "Email or password is incorrect."
USER_AGENT_MAX = 512


@dataclass(frozen=True)
class ConsoleSession:
    token: str  # the cookie's value; only its SHA-256 is stored
    operator: Operator
    csrf_token: str


class InvalidCredentials(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("invalid_credentials", INVALID_CREDENTIALS)


class LockedOut(RetryLater):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("locked_out", lockout_message(retry_after_s), retry_after_s, status=429)


def operator_actor(request: Request, operator_id: str | None) -> Actor:
    # uvicorn resolves X-Forwarded-For from the trusted proxy (PORTICO_TRUSTED_PROXY_IPS) into request.client.
    return Actor(
        kind="operator",
        id=operator_id,
        client_address=request.client.host if request.client else None,
        user_agent=(request.headers.get("user-agent") or "")[:USER_AGENT_MAX] or None,
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def typed_email(value: str, key: bytes) -> str:
    """The email as the failure event records it: normalised when it reads as an address; otherwise (people
    type passwords into the email field) a keyed fingerprint, `hmac-sha256:<16 hex>`, which tells repeats of
    one value apart in the append-only log but cannot be checked against a list of guesses without the key."""
    if looks_like_email(value):
        return value.strip().lower()
    return "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def _counted_email(value: str) -> str:
    try:
        return normalize_email(value)
    except DomainError:
        return value.strip().lower()[:EMAIL_MAX_LENGTH]


class ConsoleAuth:
    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        console_store: ConsoleStore,
        hashing: PasswordHashing,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._pool = pool
        self._store = console_store
        self.hashing = hashing
        self._clock = clock
        self.policy = LockoutPolicy(
            settings.console_lockout_failures, settings.console_lockout_address_failures, settings.console_lockout_seconds
        )
        # Its own key, derived so that the audit log's fingerprints say nothing about the link signing key.
        self._typed_email_key = hmac.new(settings.secret("link_signing_key").encode(), b"console typed email",
                                         hashlib.sha256).digest()
        self._idle_s = settings.console_session_idle_seconds
        self._max_s = settings.console_session_max_seconds
        public = urlsplit(settings.public_url)
        self.secure_cookie = not (public.scheme == "http" and is_loopback_host(public.hostname or ""))

    async def _record(self, data: EventData) -> None:
        await record_events(self._pool(), [CloudEvent.wrap(data, source=SOURCE, time=self._clock.now())])

    async def _reserve(self, email: str, address: str) -> Attempt:
        return await self._store.reserve_attempt(email, address, self.policy.max_failures,
                                                 self.policy.max_address_failures, self.policy.lockout_seconds)

    async def sign_in(self, email: str, password: str, request: Request) -> ConsoleSession:
        counted = _counted_email(email)
        address = client_address(request)
        typed = typed_email(email, self._typed_email_key)
        attempt = await self._reserve(counted, address)
        if not attempt.granted:
            await self._record(OperatorSignInFailed(email=typed, reason="locked_out",
                                                    actor=operator_actor(request, None)))
            raise LockedOut(attempt.retry_after_s)
        try:
            found = await store.find_operator_by_email(self._pool(), counted)
            operator, stored_hash = found if found else (None, None)
            matches, needs_rehash = await self.hashing.verify(stored_hash, password[:1024])
        except Exception:
            # Never checked (busy, a dependency down): not a failure, so it does not count towards a lockout.
            await self._store.release_attempt(counted, address)
            raise
        if operator is None or not matches or operator.disabled:
            operator_id = operator.id if operator else None
            # The password was checked: the event says why it failed, even when this failure starts a lockout.
            await self._record(OperatorSignInFailed(email=typed, operator_id=operator_id, reason="invalid_credentials",
                                                    actor=operator_actor(request, operator_id)))
            if self.policy.locked(attempt.account, attempt.address):
                raise LockedOut(self.policy.lockout_seconds)
            raise InvalidCredentials()
        await self._store.release_attempt(counted, address, clear_account=True)
        token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        await self._store.create_session(token, operator.id, csrf_token, self._idle_s, self._max_s)
        new_hash = await self._rehash(password) if needs_rehash else None
        now = self._clock.now()
        event = CloudEvent.wrap(
            OperatorSignedIn(operator_id=operator.id, email=operator.email, actor=operator_actor(request, operator.id)),
            source=SOURCE, time=now,
        )
        await store.record_sign_in(self._pool(), operator.id, now, new_hash, [event])
        return ConsoleSession(token, operator, csrf_token)

    async def _rehash(self, password: str) -> str | None:
        """A hash under current parameters, or None when hashing is busy (the next sign-in will try again)."""
        try:
            return await self.hashing.hash(password)
        except Busy:
            return None

    async def session(self, token: str | None) -> ConsoleSession | None:
        """The live session behind a cookie value (its idle timer restarted), or None."""
        if not token or len(token) > 128:
            return None
        stored = await self._store.touch_session(token, self._idle_s)
        if stored is None:
            return None
        operator = await store.get_operator(self._pool(), stored.operator_id)
        revoked = operator is None or operator.disabled or (
            operator.sessions_revoked_at is not None
            and stored.started_ms <= operator.sessions_revoked_at.timestamp() * 1000
        )
        if revoked or operator is None:
            await self._store.end_session(token)
            return None
        return ConsoleSession(token, operator, stored.csrf_token)

    async def sign_out(self, session: ConsoleSession, request: Request) -> None:
        await self._store.end_session(session.token)
        await self._record(OperatorSignedOut(operator_id=session.operator.id,
                                             actor=operator_actor(request, session.operator.id)))

    async def change_password(self, session: ConsoleSession, current: str, new: str, request: Request) -> ConsoleSession:
        """Replace the password and end every other session of the operator; the caller goes on in a new one."""
        operator = session.operator
        address = client_address(request)
        attempt = await self._reserve(operator.email, address)
        if not attempt.granted:
            raise LockedOut(attempt.retry_after_s)
        try:
            stored_hash = await store.operator_password_hash(self._pool(), operator.id)
            matches, _ = await self.hashing.verify(stored_hash, current[:1024])
        except Exception:
            await self._store.release_attempt(operator.email, address)
            raise
        if not matches:
            raise DomainError("invalid_current_password", "The current password is incorrect.", "current_password")
        await self._store.release_attempt(operator.email, address)
        check_new_password(new, operator.email, current)
        event = CloudEvent.wrap(
            OperatorPasswordChanged(operator_id=operator.id, actor=operator_actor(request, operator.id)),
            source=SOURCE, time=self._clock.now(),
        )
        token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        started_ms = await self._store.create_session(token, operator.id, csrf_token, self._idle_s, self._max_s)
        # Sessions are dated on Redis's clock, so the cut-off is too: everything started before this one.
        ended_before = datetime.fromtimestamp((started_ms - 1) / 1000, UTC)
        await store.set_operator_password(
            self._pool(), operator.id, await self.hashing.hash(new), False, ended_before, [event]
        )
        await self._store.end_session(session.token)
        return ConsoleSession(token, replace(operator, must_change_password=False), csrf_token)

    def set_cookie(self, response: Response, session: ConsoleSession) -> None:
        # No Max-Age: the browser forgets it when closed; the server ends it at idle or absolute expiry.
        response.set_cookie(COOKIE, session.token, path=COOKIE_PATH, httponly=True, samesite="lax",
                            secure=self.secure_cookie)

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=self.secure_cookie)


def csrf_matches(session: ConsoleSession, presented: str | None) -> bool:
    return presented is not None and secrets.compare_digest(presented.encode(), session.csrf_token.encode())


async def current_session(request: Request) -> ConsoleSession | None:
    """The signed-in session of this request (looked up once per request), or None."""
    if hasattr(request.state, "console_session"):
        cached: ConsoleSession | None = request.state.console_session
        return cached
    auth: ConsoleAuth = request.app.state.console_auth
    session = await auth.session(request.cookies.get(COOKIE))
    request.state.console_session = session
    return session


async def current_operator(request: Request) -> Operator | None:
    """For page routes: the signed-in operator, or None (then send them to /console/sign-in)."""
    session = await current_session(request)
    return session.operator if session else None
