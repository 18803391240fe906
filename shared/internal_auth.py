"""Trust between Portico's own hops: who is calling, as vouched for by the proxy or a sibling service.

Browsers and API clients never talk to a service directly: the proxy (after asking link-issuer to
check the API key) or portal-session (after checking the session) forwards the request and adds
these headers, overwriting anything a client sent. A service accepts them only together with the
shared internal token, compared in constant time.
"""
import hmac
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from shared.errors import Unauthenticated
from shared.settings import get_settings

INTERNAL_TOKEN_HEADER = "X-Portico-Internal-Token"
ACTOR_HEADER = "X-Portico-Actor"  # "<kind>:<id>", e.g. "api_key:key_…", "portal_session:ses_…"
ORGANIZATION_HEADER = "X-Portico-Organization"  # set by portal-session: the session's organization
CLIENT_ADDRESS_HEADER = "X-Portico-Client-Address"
USER_AGENT_HEADER = "X-Portico-User-Agent"


def passed_on(value: str) -> bytes:
    """A client's header value forwarded to a sibling as it came: Starlette reads header bytes as Latin-1,
    and httpx refuses a non-ASCII str (a user agent with an accent was a 500)."""
    return value.encode("latin-1", "replace")

ActorKind = Literal["api_key", "operator", "portal_session", "system"]
_ACTOR_KINDS: tuple[ActorKind, ...] = ("api_key", "operator", "portal_session", "system")


@dataclass(frozen=True)
class Caller:
    """The authenticated principal behind an internal request."""

    actor_kind: ActorKind
    actor_id: str
    organization_id: str | None  # only for portal sessions: the one organization they may touch
    client_address: str | None
    user_agent: str | None


def internal_token_matches(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def parse_actor(value: str | None) -> tuple[ActorKind, str] | None:
    if not value or ":" not in value:
        return None
    kind, _, actor_id = value.partition(":")
    if kind not in _ACTOR_KINDS or not actor_id:
        return None
    return kind, actor_id


async def require_caller(request: Request) -> Caller:
    """FastAPI dependency: the vouched-for caller, or 401 when the request did not come through Portico."""
    expected = get_settings().secret("internal_token")
    if not internal_token_matches(request.headers.get(INTERNAL_TOKEN_HEADER), expected):
        raise Unauthenticated("unauthorized", "Call this API through Portico's public origin with an API key.")
    actor = parse_actor(request.headers.get(ACTOR_HEADER))
    if actor is None:
        raise Unauthenticated("unauthorized", "No authenticated caller came with this request.")
    return Caller(
        actor_kind=actor[0],
        actor_id=actor[1],
        organization_id=request.headers.get(ORGANIZATION_HEADER),
        client_address=request.headers.get(CLIENT_ADDRESS_HEADER),
        user_agent=request.headers.get(USER_AGENT_HEADER),
    )
