"""Use cases of sign-in: start an attempt (an app's sign-in or a portal test), finish it with the IdP's answer,
exchange a one-time code for the profile. Routes only translate these calls and their outcomes."""
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from connection_config import store as connections_store
from connection_config.metrics import count_sign_in
from connection_config.model import Connection, ConnectionNotFound, ConnectionProblem, missing_fields
from connection_config.sign_in import store
from connection_config.sign_in.domain import (
    ATTEMPT_LIFETIME,
    CODE_LIFETIME,
    ID_PREFIX,
    Attempt,
    Kind,
    SignInRequestInvalid,
    app_redirect,
    attempt_event,
    check_redirect_uri,
    check_state,
    code_hash,
    connection_test_view,
    error_params,
    milliseconds,
)
from connection_config.sign_in.idp import IdentityProviders
from connection_config.sso.errors import SignInError
from connection_config.sso.profile import Profile
from connection_config.sso.saml_response import SamlSignIn, accept_once
from portico_events import Actor
from shared.errors import DomainError
from shared.ids import Clock, is_id, new_id
from shared.outbox import enqueue_events


@dataclass(frozen=True)
class AuthorizeQuery:
    organization_id: str | None
    connection_id: str | None
    redirect_uri: str | None
    state: str | None


@dataclass(frozen=True)
class Redirect:
    """Send the browser here (303)."""

    url: str


class InvalidGrant(DomainError):
    status = 400

    def __init__(self) -> None:
        super().__init__("invalid_grant", "This code is unknown, expired or already used; sign the user in again.")


@dataclass
class SignIns:
    pool: Callable[[], asyncpg.Pool]
    providers: IdentityProviders
    clock: Clock
    public_url: str
    redirect_uris: frozenset[str]

    # Starting ----------------------------------------------------------------------------------

    async def authorize(self, query: AuthorizeQuery, actor: Actor) -> Redirect:
        """GET /sso/v1/authorize: to the IdP, or back to the app with error=connection_not_enabled."""
        redirect_uri = check_redirect_uri(query.redirect_uri, self.redirect_uris)
        state = check_state(query.state)
        connection = await self._pick_connection(query.organization_id, query.connection_id)
        now = self.clock.now()
        attempt = self._new_attempt(connection, "sign_in", actor, now, redirect_uri=redirect_uri, app_state=state)
        if connection.status != "enabled":
            error = SignInError("connection_not_enabled", expected="enabled", actual=connection.status)
            await self._record_failure(attempt, error, now, verify_ms=None)
            return Redirect(app_redirect(redirect_uri, error_params(error), state))
        attempt, url = self.providers.request(connection, attempt, now)
        await store.insert_attempt(self.pool(), attempt)
        return Redirect(url)

    async def start_test(self, organization_id: str, connection_id: str, actor: Actor) -> dict[str, Any]:
        """POST …/tests: a pending test of a complete connection (enabled or not); its location starts it."""
        connection = await self._connection(organization_id, connection_id)
        missing = missing_fields(connection)
        if missing:
            raise ConnectionProblem("connection_incomplete", f"Fill in {', '.join(missing)} before testing this "
                                    "connection.", missing[0], status=409)
        attempt = self._new_attempt(connection, "test", actor, self.clock.now())
        await store.insert_attempt(self.pool(), attempt)
        return {**connection_test_view(attempt), "location": f"{self.public_url.rstrip('/')}/sso/v1/tests/{attempt.id}"}

    async def begin_test(self, test_id: str) -> Redirect:
        """GET /sso/v1/tests/{id}: a new request to the IdP for a pending test; a finished one shows its result."""
        attempt = await store.find_attempt(self.pool(), test_id) if is_id(test_id, "tst") else None
        if attempt is None:
            raise SignInRequestInvalid("unknown_test", "No such connection test; start one from the portal.",
                                       status=404)
        connection = await connections_store.find_connection(
            self.pool(), attempt.connection_id, organization_id=attempt.organization_id)
        if attempt.status != "pending" or connection is None:
            return Redirect(self._result_page(attempt))
        now = self.clock.now()
        attempt = replace(attempt, expires_at=now + ATTEMPT_LIFETIME, connection_version=connection.version)
        attempt, url = self.providers.request(connection, attempt, now)
        if not await store.restart_attempt(self.pool(), attempt):
            return Redirect(self._result_page(attempt))
        return Redirect(url)

    # Finishing ---------------------------------------------------------------------------------

    async def finish_saml(self, connection_id: str, saml_response: str | None, relay_state: str | None) -> Redirect:
        """POST /sso/saml/{id}/acs."""
        attempt = await self._answered_attempt(connection_id, relay_state, "RelayState")
        if not saml_response:
            raise SignInRequestInvalid("saml_response_required", "Post the identity provider's SAMLResponse.",
                                       "SAMLResponse", status=400)
        now = self.clock.now()
        try:
            connection = await self._usable_connection(attempt)
            result = self.providers.verify_saml(connection, attempt, saml_response, now)
        except SignInError as error:
            return await self._failed(attempt, error, now)
        verify_ms = milliseconds(now, self.clock.now())
        if attempt.status != "pending" or attempt.expired(now):
            return await self._failed(attempt, await self._replay_or_expired(result, now), now)
        return await self._succeeded(attempt, result.profile, now, verify_ms, saml=result)

    async def finish_oidc(self, connection_id: str, params: Mapping[str, str]) -> Redirect:
        """GET /sso/oidc/{id}/callback: the code (or the IdP's error) for the attempt named by state."""
        attempt = await self._answered_attempt(connection_id, params.get("state"), "state")
        now = self.clock.now()
        if attempt.status != "pending" or attempt.expired(now):
            return await self._failed(attempt, SignInError("sign_in_expired"), now)
        try:
            connection = await self._usable_connection(attempt)
            profile = await self.providers.verify_oidc(connection, attempt, params, now)
        except SignInError as error:
            return await self._failed(attempt, error, now)
        return await self._succeeded(attempt, profile, now, milliseconds(now, self.clock.now()))

    # Reading -----------------------------------------------------------------------------------

    async def redeem(self, code: str) -> dict[str, Any]:
        """POST /api/v1/sso/token: the profile of a live code, once."""
        if not code or len(code) > 128 or not code.isascii():
            raise InvalidGrant()
        profile = await store.redeem_code(self.pool(), code_hash(code), self.clock.now())
        if profile is None:
            raise InvalidGrant()
        return profile

    async def test_result(self, organization_id: str, connection_id: str, test_id: str) -> dict[str, Any]:
        attempt = None
        if is_id(test_id, "tst") and is_id(connection_id, "conn"):
            attempt = await store.find_attempt(self.pool(), test_id, organization_id=organization_id,
                                               connection_id=connection_id)
        if attempt is None or attempt.kind != "test":
            raise ConnectionProblem("not_found", "No such test of this connection.", status=404)
        return connection_test_view(attempt)

    # Helpers -----------------------------------------------------------------------------------

    async def _pick_connection(self, organization_id: str | None, connection_id: str | None) -> Connection:
        if connection_id is not None:
            connection = None
            if is_id(connection_id, "conn"):
                connection = await connections_store.find_connection(
                    self.pool(), connection_id, organization_id=organization_id)
            if connection is None:
                raise SignInRequestInvalid("connection_not_found", "No such connection (in this organization).",
                                           "connection_id")
            return connection
        if not organization_id or not is_id(organization_id, "org"):
            raise SignInRequestInvalid("organization_id_required", "Send organization_id (org_…) or "
                                       "connection_id (conn_…).", "organization_id")
        async with self.pool().acquire() as db:
            connections = await connections_store.list_connections(db, organization_id)
        enabled = [connection for connection in connections if connection.status == "enabled"]
        if len(enabled) > 1:
            raise SignInRequestInvalid("connection_id_required", "This organization has several enabled connections; "
                                       "send connection_id to choose one.", "connection_id")
        if not enabled and not connections:
            raise SignInRequestInvalid("connection_not_found", "This organization has no connection.",
                                       "organization_id")
        return enabled[0] if enabled else connections[0]

    async def _connection(self, organization_id: str, connection_id: str) -> Connection:
        connection = None
        if is_id(connection_id, "conn"):
            connection = await connections_store.find_connection(self.pool(), connection_id,
                                                                 organization_id=organization_id)
        if connection is None:
            raise ConnectionNotFound()
        return connection

    async def _answered_attempt(self, connection_id: str, attempt_id: str | None, field: str) -> Attempt:
        """The attempt the IdP's answer names, on this connection; else 400 (there is nowhere to redirect)."""
        attempt = None
        if attempt_id and (is_id(attempt_id, "sgn") or is_id(attempt_id, "tst")) and is_id(connection_id, "conn"):
            attempt = await store.find_attempt(self.pool(), attempt_id, connection_id=connection_id)
        if attempt is None:
            raise SignInRequestInvalid(
                "unknown_sign_in", f"{field} names no sign-in of this connection: start sign-ins from the application "
                "(GET /sso/v1/authorize); sign-ins started at the identity provider are not supported.", field)
        return attempt

    async def _usable_connection(self, attempt: Attempt) -> Connection:
        connection = await connections_store.find_connection(
            self.pool(), attempt.connection_id, organization_id=attempt.organization_id)
        if connection is None:
            raise SignInError("connection_not_enabled", "This connection was deleted.", actual="deleted")
        if attempt.kind == "sign_in" and connection.status != "enabled":
            raise SignInError("connection_not_enabled", expected="enabled", actual=connection.status)
        return connection

    async def _replay_or_expired(self, result: SamlSignIn, now: datetime) -> SignInError:
        """A valid response for an attempt that is already over: a replay if its assertion was used."""
        async with self.pool().acquire() as db, db.transaction():
            try:
                await accept_once(result, store.SeenAssertions(db, now))
            except SignInError as replayed:
                return replayed
        return SignInError("sign_in_expired")

    def _new_attempt(self, connection: Connection, kind: Kind, actor: Actor, now: datetime, **app: str | None) -> Attempt:
        return Attempt(
            id=new_id(ID_PREFIX[kind]), organization_id=connection.organization_id, connection_id=connection.id,
            connection_version=connection.version, connection_type=connection.type, kind=kind, status="pending",
            started_by=actor.reference, created_at=now, expires_at=now + ATTEMPT_LIFETIME,
            redirect_uri=app.get("redirect_uri"), app_state=app.get("app_state"),
        )

    def _result_page(self, attempt: Attempt) -> str:
        return f"{self.public_url.rstrip('/')}/portal/connections/{attempt.connection_id}/tests/{attempt.id}"

    async def _succeeded(
        self, attempt: Attempt, profile: Profile, now: datetime, verify_ms: int, saml: SamlSignIn | None = None
    ) -> Redirect:
        """Record the success and queue its event in one transaction; a code for an app's sign-in only."""
        details: dict[str, Any] = {"duration_ms": milliseconds(attempt.created_at, now), "verify_ms": verify_ms}
        if saml is not None:
            details |= {"certificate_fingerprint_sha256": saml.certificate_fingerprint, "signed": saml.signed,
                        "signature_algorithm": saml.signature_algorithm, "digest_algorithm": saml.digest_algorithm,
                        "skew_seconds": saml.skew_seconds}
        code = secrets.token_hex(32)  # 256 bits in hex: nothing to escape, and never a leading '-' that a CLI takes for an option
        try:
            async with self.pool().acquire() as db, db.transaction():
                locked = await store.find_attempt(db, attempt.id, for_update=True)
                if saml is not None:  # first: the same response posted twice at once is a replay, whichever wins
                    await accept_once(saml, store.SeenAssertions(db, now))
                    await store.forget_old_assertions(db, now)
                if locked is None or locked.status != "pending":
                    raise SignInError("sign_in_expired")
                finished = replace(locked, status="succeeded", finished_at=now, profile=profile.as_dict(),
                                   details=details)
                await store.finish_attempt(db, finished)
                if finished.kind == "sign_in":
                    await store.insert_code(db, code_hash(code), finished.id, now + CODE_LIFETIME)
                await enqueue_events(db, [attempt_event(finished, now, verify_ms, profile=profile)])
        except SignInError as error:
            return await self._failed(attempt, error, now, verify_ms=verify_ms)
        count_sign_in(finished.connection_type, finished.kind, "succeeded")
        if finished.kind == "test":
            return Redirect(self._result_page(finished))
        assert finished.redirect_uri is not None
        return Redirect(app_redirect(finished.redirect_uri, {"code": code}, finished.app_state))

    async def _failed(self, attempt: Attempt, error: SignInError, now: datetime, verify_ms: int | None = None) -> Redirect:
        await self._record_failure(attempt, error, now, verify_ms=verify_ms)
        count_sign_in(attempt.connection_type, attempt.kind, error.code)
        if attempt.kind == "test":
            return Redirect(self._result_page(attempt))
        assert attempt.redirect_uri is not None
        return Redirect(app_redirect(attempt.redirect_uri, error_params(error), attempt.app_state))

    async def _record_failure(self, attempt: Attempt, error: SignInError, now: datetime, *, verify_ms: int | None) -> None:
        """A pending (or new) attempt becomes failed; one already over keeps its outcome. The event either way."""
        details = {"duration_ms": milliseconds(attempt.created_at, now), "verify_ms": verify_ms}
        failed = replace(attempt, status="failed", finished_at=now, error=dict(error.as_dict()), details=details)
        async with self.pool().acquire() as db, db.transaction():
            locked = await store.find_attempt(db, attempt.id, for_update=True)
            if locked is None:
                await store.insert_attempt(db, attempt)
                locked = attempt
            if locked.status == "pending":
                await store.finish_attempt(db, failed)
            await enqueue_events(db, [attempt_event(failed, now, verify_ms, error=error)])
