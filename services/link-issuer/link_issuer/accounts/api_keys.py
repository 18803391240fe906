"""Management API authentication: bearer API keys checked against their stored SHA-256, in constant time."""
import hashlib
import hmac
from collections.abc import Callable

import asyncpg
from fastapi import Request

from link_issuer.accounts import store
from link_issuer.domain import secret_matches, split_api_key
from portico_events import Actor
from shared.errors import Unauthenticated

BOOTSTRAP_KEY_ID = "key_bootstrap"


class ApiKeyVerifier:
    """Knows the stored keys (through the pool) and the optional bootstrap key from the environment."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], bootstrap_key: str | None) -> None:
        self._pool = pool
        self._bootstrap_digest = hashlib.sha256(bootstrap_key.encode()).digest() if bootstrap_key else None

    async def key_id_for(self, presented: str) -> str | None:
        """The key id when `presented` is a live key, else None. Never says which part was wrong."""
        if self._bootstrap_digest is not None and hmac.compare_digest(
            hashlib.sha256(presented.encode()).digest(), self._bootstrap_digest
        ):
            return BOOTSTRAP_KEY_ID
        parts = split_api_key(presented)
        if parts is None:
            return None
        key_id, secret = parts
        found = await store.find_api_key(self._pool(), key_id)
        if found is None:
            secret_matches(secret, b"\0" * 32)  # same work as a real comparison
            return None
        digest, revoked = found
        return key_id if secret_matches(secret, digest) and not revoked else None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def authenticate(request: Request, verifier: ApiKeyVerifier) -> Actor:
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("unauthorized", "Send an API key as 'Authorization: Bearer <key>'.")
    key_id = await verifier.key_id_for(token)
    if key_id is None:
        raise Unauthenticated("unauthorized", "The API key is unknown or revoked.")
    return Actor(
        kind="api_key",
        id=key_id,
        client_address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
