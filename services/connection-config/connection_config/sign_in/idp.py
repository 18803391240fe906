"""The identity provider's side of an attempt: the request that sends the browser there, and the verified
answer that comes back (SAML response, OIDC code exchanged for an ID token). Calls the sso package."""
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from connection_config import oidc
from connection_config.model import Connection, ConnectionProblem, SealedSecret, missing_fields
from connection_config.outbound import OutboundPolicy, PinnedTransport
from connection_config.secretbox import Keyring, SecretUnavailable
from connection_config.sign_in.domain import Attempt
from connection_config.sso.errors import SignInError
from connection_config.sso.oidc_flow import (
    authorization_request,
    callback_code,
    exchange_code,
    fetch_jwks,
    token_request,
    verify_id_token_refreshing,
)
from connection_config.sso.profile import Profile, oidc_profile
from connection_config.sso.saml_request import ServiceProvider, start_saml_sign_in
from connection_config.sso.saml_response import DEFAULT_MAX_SKEW, SamlSignIn, SamlTrust, verify_saml_response

CLIENT_SECRET_PURPOSE = "oidc.client_secret"  # as connections.py seals it
VERIFIER_PURPOSE = "sign_in.pkce_verifier"  # sealed under the attempt's id


@dataclass
class IdentityProviders:
    keyring: Keyring
    policy: OutboundPolicy
    public_url: str
    max_clock_skew: timedelta = DEFAULT_MAX_SKEW
    jwks_cache: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def request(self, connection: Connection, attempt: Attempt, now: datetime) -> tuple[Attempt, str]:
        """The attempt with what the answer must match, and the IdP URL to send the browser to."""
        missing = missing_fields(connection)
        if missing or (connection.type == "oidc" and not (connection.oidc and connection.oidc.authorization_endpoint)):
            raise ConnectionProblem("connection_incomplete", f"Fill in {', '.join(missing) or 'oidc.issuer'} before "
                                    "signing in through this connection.", missing[0] if missing else "oidc.issuer",
                                    status=409)
        if connection.type == "saml":
            sp = ServiceProvider.for_connection(self.public_url, connection.id)
            authn = start_saml_sign_in(connection, sp, now=now, relay_state=attempt.id)
            return replace(attempt, saml_request_id=authn.id), authn.redirect_url
        settings = connection.oidc
        assert settings is not None and settings.authorization_endpoint and settings.client_id  # checked above
        authorization = authorization_request(
            authorization_endpoint=settings.authorization_endpoint, client_id=settings.client_id,
            redirect_uri=oidc.redirect_uri(self.public_url, connection.id), scopes=settings.scopes, state=attempt.id,
        )
        sealed = self.keyring.seal(authorization.code_verifier, connection_id=attempt.id, purpose=VERIFIER_PURPOSE)
        attempt = replace(attempt, oidc_nonce=authorization.nonce, verifier_key_id=sealed.key_id,
                          verifier_ciphertext=sealed.ciphertext)
        return attempt, authorization.url

    def verify_saml(self, connection: Connection, attempt: Attempt, saml_response: str, now: datetime) -> SamlSignIn:
        try:
            trust = SamlTrust.from_connection(connection)
        except ValueError:
            raise SignInError("issuer_mismatch", "The connection has no identity provider entity ID; complete it.",
                              fix_in="portico") from None
        return verify_saml_response(saml_response, trust=trust, sp=ServiceProvider.for_connection(
            self.public_url, connection.id), expected_in_response_to=attempt.saml_request_id, now=now,
            max_skew=self.max_clock_skew)

    async def verify_oidc(
        self, connection: Connection, attempt: Attempt, params: Mapping[str, str], now: datetime
    ) -> Profile:
        """The callback's code exchanged (sealed client secret, PKCE verifier) and its ID token verified."""
        code = callback_code(params)
        settings = connection.oidc
        if (settings is None or not settings.token_endpoint or not settings.jwks_uri or not settings.issuer
                or not settings.client_id or connection.client_secret is None or attempt.oidc_nonce is None):
            raise SignInError("token_exchange_failed", "The connection is not completely configured.")
        client_secret, verifier = self._open_secrets(connection, attempt)
        jwks_uri = settings.jwks_uri
        timeout = httpx.Timeout(self.policy.read_timeout_s, connect=self.policy.connect_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False,
                                     transport=PinnedTransport(self.policy)) as client:
            id_token = await exchange_code(client, token_request(
                token_endpoint=settings.token_endpoint, code=code,
                redirect_uri=oidc.redirect_uri(self.public_url, connection.id), client_id=settings.client_id,
                client_secret=client_secret, code_verifier=verifier, auth_methods_supported=None,
            ))

            async def refresh() -> dict[str, Any]:
                return await fetch_jwks(client, jwks_uri)

            token, jwks = await verify_id_token_refreshing(
                id_token, self.jwks_cache.get(jwks_uri, {"keys": []}), refresh, issuer=settings.issuer,
                client_id=settings.client_id, nonce=attempt.oidc_nonce, now=now, max_skew=self.max_clock_skew,
            )
        self.jwks_cache[jwks_uri] = jwks
        return oidc_profile(token.claims, connection_id=connection.id, organization_id=connection.organization_id)

    def _open_secrets(self, connection: Connection, attempt: Attempt) -> tuple[str, str]:
        assert connection.client_secret is not None
        try:
            client_secret = self.keyring.open(connection.client_secret, connection_id=connection.id,
                                              purpose=CLIENT_SECRET_PURPOSE)
        except SecretUnavailable:
            raise SignInError("token_exchange_failed", "The connection's client secret cannot be decrypted; enter "
                              "it again.") from None
        if attempt.verifier_key_id is None or attempt.verifier_ciphertext is None:
            raise SignInError("sign_in_expired")
        try:
            verifier = self.keyring.open(SealedSecret(attempt.verifier_key_id, attempt.verifier_ciphertext),
                                         connection_id=attempt.id, purpose=VERIFIER_PURPOSE)
        except SecretUnavailable:
            raise SignInError("sign_in_expired") from None
        return client_secret, verifier

