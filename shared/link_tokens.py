"""Portal link secrets: signed, self-describing tokens that portal-session can check before any event arrives.

A token is `v1.<payload>.<signature>` (base64url). The payload names the link, its organization, kind
and expiry, plus 256 random bits; the signature is HMAC-SHA256 with a key that link-issuer and
portal-session share. Only the token's SHA-256 is ever stored or published.
"""
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

LinkKind = Literal["magic", "shareable"]
_VERSION = "v1"
_KIND_CODES: dict[LinkKind, str] = {"magic": "m", "shareable": "s"}
_KINDS_BY_CODE = {code: kind for kind, code in _KIND_CODES.items()}
MAX_TOKEN_LENGTH = 512


class InvalidLinkToken(ValueError):
    """The token was not issued by this deployment (or was altered): treat as an unknown link."""


@dataclass(frozen=True)
class LinkClaims:
    link_id: str
    organization_id: str
    kind: LinkKind
    expire_time: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, message: str) -> str:
    return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())


def token_sha256(token: str) -> str:
    """The only form of a link secret that is stored, logged or published."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link_token(claims: LinkClaims, key: bytes, random_bytes: Callable[[int], bytes]) -> str:
    payload = {
        "l": claims.link_id,
        "o": claims.organization_id,
        "k": _KIND_CODES[claims.kind],
        "e": int(claims.expire_time.timestamp()),
        "n": _b64(random_bytes(32)),
    }
    body = f"{_VERSION}.{_b64(json.dumps(payload, separators=(',', ':')).encode())}"
    return f"{body}.{_sign(key, body)}"


def read_link_token(token: str, key: bytes) -> LinkClaims:
    """Check the signature and decode the claims; expiry and use are decided by the caller's state."""
    # Every token we issue is ASCII; hmac.compare_digest raises TypeError on a non-ASCII str.
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or token.count(".") != 2:
        raise InvalidLinkToken("malformed")
    version, payload, signature = token.split(".")
    if version != _VERSION or not hmac.compare_digest(signature, _sign(key, f"{version}.{payload}")):
        raise InvalidLinkToken("bad signature")
    try:
        data = json.loads(_unb64(payload))
        return LinkClaims(
            link_id=str(data["l"]),
            organization_id=str(data["o"]),
            kind=_KINDS_BY_CODE[data["k"]],
            expire_time=datetime.fromtimestamp(int(data["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidLinkToken("bad payload") from error
