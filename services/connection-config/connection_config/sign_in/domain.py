"""Rules of sign-in attempts (no I/O): registered redirect URIs, the app's redirect, one-time codes, lifetimes,
the attempt's event and its view as a connection test."""
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from connection_config.sso.errors import SignInError
from connection_config.sso.profile import Profile
from portico_events import (
    Actor,
    CloudEvent,
    ConnectionTestFailed,
    ConnectionTestSucceeded,
    SsoSignedIn,
    SsoSignInFailed,
)
from shared.errors import DomainError
from shared.timestamps import rfc3339

Kind = Literal["sign_in", "test"]
AttemptStatus = Literal["pending", "succeeded", "failed"]
ATTEMPT_LIFETIME = timedelta(minutes=10)  # the user signs in at the IdP within this
CODE_LIFETIME = timedelta(minutes=10)
MAX_STATE_CHARS = 1024
ID_PREFIX: dict[Kind, str] = {"sign_in": "sgn", "test": "tst"}
SOURCE = "/portico/connection-config"


class SignInRequestInvalid(DomainError):
    """A sign-in request the app must fix (400, naming the field); nothing is redirected."""

    status = 400


def registered_redirect_uris(setting: str) -> frozenset[str]:
    return frozenset(part.strip() for part in setting.split(",") if part.strip())


def check_redirect_uri(value: str | None, registered: frozenset[str]) -> str:
    """The app's redirect_uri, compared exactly with PORTICO_SSO_REDIRECT_URIS: never an open redirect."""
    if not value:
        raise SignInRequestInvalid("redirect_uri_required", "Send redirect_uri: your app's sign-in callback.",
                                   "redirect_uri")
    if not registered:
        raise SignInRequestInvalid(
            "redirect_uri_not_allowed", "No app may sign users in yet: list your app's callback URL in "
            "PORTICO_SSO_REDIRECT_URIS.", "redirect_uri")
    if value not in registered:
        raise SignInRequestInvalid(
            "redirect_uri_not_allowed", "redirect_uri is not one of the callbacks in PORTICO_SSO_REDIRECT_URIS "
            "(compared exactly, including the path and a trailing slash).", "redirect_uri")
    return value


def check_state(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_STATE_CHARS:
        raise SignInRequestInvalid("state_too_long", f"state is longer than {MAX_STATE_CHARS} characters.", "state")
    return value


def app_redirect(redirect_uri: str, params: dict[str, str], state: str | None) -> str:
    """redirect_uri with `params` and the app's state added to its query."""
    if state is not None:
        params = {**params, "state": state}
    parts = urlsplit(redirect_uri)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def error_params(error: SignInError) -> dict[str, str]:
    return {"error": error.code, "error_description": error.message}


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


@dataclass(frozen=True)
class Attempt:
    id: str
    organization_id: str
    connection_id: str
    connection_version: int
    connection_type: Literal["saml", "oidc"]
    kind: Kind
    status: AttemptStatus
    started_by: str
    created_at: datetime
    expires_at: datetime
    redirect_uri: str | None = None
    app_state: str | None = None
    saml_request_id: str | None = None
    oidc_nonce: str | None = None
    verifier_key_id: str | None = None
    verifier_ciphertext: bytes | None = None
    finished_at: datetime | None = None
    error: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    details: dict[str, Any] | None = None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def milliseconds(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))


def attempt_event(
    attempt: Attempt, now: datetime, verify_ms: int | None, *, profile: Profile | None = None,
    error: SignInError | None = None,
) -> CloudEvent:
    """The attempt's one event: signed_in / sign_in_failed, or test_succeeded / test_failed."""
    kind, _, actor_id = attempt.started_by.partition(":")
    actor = Actor(kind="portal_session", id=actor_id) if kind == "portal_session" else Actor(kind="system")
    common: dict[str, Any] = {
        "organization_id": attempt.organization_id, "actor": actor, "attempt_id": attempt.id,
        "connection_id": attempt.connection_id, "connection_type": attempt.connection_type,
        "version": attempt.connection_version, "duration_ms": milliseconds(attempt.created_at, now),
        "verify_ms": verify_ms,
    }
    if error is not None:
        failure = SsoSignInFailed if attempt.kind == "sign_in" else ConnectionTestFailed
        return CloudEvent.wrap(failure(**common, error_code=error.code, fix_in=error.fix_in), source=SOURCE,
                               time=now)
    assert profile is not None
    success = SsoSignedIn if attempt.kind == "sign_in" else ConnectionTestSucceeded
    return CloudEvent.wrap(success(**common, subject=profile.idp_id, email=profile.email), source=SOURCE, time=now)


def connection_test_view(attempt: Attempt) -> dict[str, Any]:
    """BRIEF §5's test shape, with when it ran and what verified it."""
    view: dict[str, Any] = {
        "id": attempt.id, "status": attempt.status, "connection_id": attempt.connection_id,
        "connection_version": attempt.connection_version, "created_at": rfc3339(attempt.created_at),
        "finished_at": rfc3339(attempt.finished_at) if attempt.finished_at else None,
    }
    if attempt.profile is not None:
        view["profile"] = attempt.profile
    if attempt.error is not None:
        view["error"] = attempt.error
    if attempt.details is not None:
        view["details"] = attempt.details
    return view
