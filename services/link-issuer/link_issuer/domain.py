"""Pure rules of link-issuer: organizations, link lifetimes, redirect and framing origins, API key format."""
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from shared.errors import DomainError
from shared.net import is_loopback_host

MAGIC_LINK_LIFETIME = timedelta(minutes=5)
SHAREABLE_LINK_DEFAULT_LIFETIME = timedelta(days=7)
SHAREABLE_LINK_MAX_SECONDS = 7 * 24 * 3600
API_KEY_SEPARATOR = "."


@dataclass(frozen=True)
class Organization:
    id: str
    display_name: str
    external_id: str | None
    allowed_frame_ancestors: list[str]
    created_at: datetime


@dataclass(frozen=True)
class PortalLink:
    id: str
    organization_id: str
    kind: Literal["magic", "shareable"]
    expire_time: datetime
    created_at: datetime
    revoked: bool
    return_url: str | None = None
    success_url: str | None = None
    created_by: str | None = None
    revoked_at: datetime | None = None
    used_at: datetime | None = None  # first redemption, as portal-session reported it


LinkState = Literal["live", "used", "expired", "revoked"]


def link_state(link: PortalLink, now: datetime) -> LinkState:
    """What an operator needs to know about a link: can it still open a session, and if not, why not.

    A magic link redeemed before it was revoked reads `used` (the revocation came too late to matter);
    a shareable link stays `live` however often it is opened.
    """
    if link.kind == "magic" and link.used_at is not None and (link.revoked_at is None or link.used_at <= link.revoked_at):
        return "used"
    if link.revoked:
        return "revoked"
    if link.expire_time <= now:
        return "expired"
    return "live"


def _breaks_a_policy(character: str) -> bool:
    """True for what a Content-Security-Policy source cannot hold: a space (next source), `;` (next directive),
    `,` (next policy), `*` (a wildcard), and what no header may carry (controls, non-ASCII). NUL is left to the
    refusal every text field shares (Postgres cannot store it)."""
    return (character in " *;," or character.isspace() or not character.isascii()
            or (not character.isprintable() and character != "\x00"))


def normalize_origin(value: str, field: str) -> str:
    """`scheme://host[:port]` with nothing after it; https, or http only on loopback.

    An origin goes verbatim into the portal's `frame-ancestors` header, so it must be exactly one source."""
    value = value.strip()
    if any(_breaks_a_policy(character) for character in value):
        raise DomainError(
            "invalid_origin",
            f"{value!r} must be a single origin like https://app.example.com: no spaces, wildcards (*), ';' or ',', "
            "and an ASCII host name (the xn-- form of an international one).",
            field,
        )
    try:
        parts = urlsplit(value)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # an unclosed [IPv6 bracket, or a port that is not a number from 0 to 65535
        raise DomainError("invalid_origin", f"{value!r} is not an origin like https://app.example.com.", field) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DomainError("invalid_origin", f"{value!r} is not an origin like https://app.example.com.", field)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise DomainError("invalid_origin", f"{value!r} must be an origin only: scheme, host and port.", field)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise DomainError("insecure_origin", f"{value!r} must use https (http is allowed only on loopback).", field)
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, or None when it has none (or an unreadable port or bracket)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def check_redirect_url(url: str, field: str, allowed_origins: set[str]) -> str:
    """Refuse open redirects: the URL must be https (or http on loopback) on an allowed origin."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [IPv6 bracket
        raise DomainError("invalid_url", f"{field} must be an absolute https URL.", field) from None
    if origin_of(url) is None or parts.scheme not in ("https", "http") or not parts.hostname:
        raise DomainError("invalid_url", f"{field} must be an absolute https URL.", field)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise DomainError("insecure_url", f"{field} must use https (http is allowed only on loopback).", field)
    if parts.username or parts.password:
        raise DomainError("invalid_url", f"{field} must not carry credentials.", field)
    if origin_of(url) not in allowed_origins:
        raise DomainError(
            "origin_not_allowed",
            f"{field} is on {origin_of(url)}, which this deployment does not allow; add it to the "
            "organization's allowed_frame_ancestors or to PORTICO_ALLOWED_REDIRECT_ORIGINS.",
            field,
        )
    return url


def shareable_lifetime(expires_in_seconds: int | None) -> timedelta:
    if expires_in_seconds is None:
        return SHAREABLE_LINK_DEFAULT_LIFETIME
    if not 1 <= expires_in_seconds <= SHAREABLE_LINK_MAX_SECONDS:
        raise DomainError(
            "invalid_expiry",
            f"expires_in_seconds must be between 1 and {SHAREABLE_LINK_MAX_SECONDS} (7 days).",
            "expires_in_seconds",
        )
    return timedelta(seconds=expires_in_seconds)


def link_expire_time(kind: Literal["magic", "shareable"], now: datetime, expires_in_seconds: int | None) -> datetime:
    lifetime = MAGIC_LINK_LIFETIME if kind == "magic" else shareable_lifetime(expires_in_seconds)
    return now.replace(microsecond=0) + lifetime


def split_api_key(presented: str) -> tuple[str, str] | None:
    """`key_…<dot>secret` → (key id, secret), or None when it cannot be one of ours."""
    key_id, dot, secret = presented.partition(API_KEY_SEPARATOR)
    if not dot or not key_id.startswith("key_") or not secret or len(presented) > 200:
        return None
    return key_id, secret


def secret_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_digest: bytes) -> bool:
    return hmac.compare_digest(secret_digest(secret), stored_digest)
