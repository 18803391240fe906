"""OpenID Connect sign-in as a relying party: the authorization URL (PKCE S256, state, nonce), the token request,
and the ID token's verification with joserfc (pure); the two HTTP calls take an httpx.AsyncClient."""
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from connection_config.sso.errors import SignInError

# Asymmetric only: an HS* token would be checked with a key the IdP publishes, i.e. one anybody can use.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
DEFAULT_MAX_SKEW = timedelta(seconds=120)
MAX_ID_TOKEN_CHARS = 64 * 1024
MAX_IDP_RESPONSE_BYTES = 256 * 1024
DEFAULT_SCOPES = ("openid", "email", "profile")


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str  # stays with the pending sign-in; only its S256 challenge travels


@dataclass(frozen=True)
class TokenRequest:
    url: str
    form: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class IdToken:
    claims: dict[str, Any]
    key_id: str | None
    algorithm: str


class UnknownKeyId(SignInError):
    """The token names a key the JWKS we hold does not have: refresh the JWKS once (rotation), then give up."""

    def __init__(self, key_id: str | None) -> None:
        super().__init__("id_token_invalid", "The ID token is signed with a key the identity provider does not "
                         "publish.", expected="a key of the identity provider's JWKS", actual=f"kid {key_id}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def code_challenge(code_verifier: str) -> str:
    """RFC 7636 S256."""
    return _b64url(hashlib.sha256(code_verifier.encode()).digest())


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def authorization_request(
    *, authorization_endpoint: str, client_id: str, redirect_uri: str, scopes: Sequence[str] = DEFAULT_SCOPES,
    token_bytes: Callable[[int], bytes] = secrets.token_bytes, state: str | None = None,
) -> AuthorizationRequest:
    """`state` defaults to 32 random bytes; a caller may pass its own unguessable handle (the attempt id)."""
    nonce, code_verifier = _b64url(token_bytes(32)), _b64url(token_bytes(32))
    state = state if state is not None else _b64url(token_bytes(32))
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(dict.fromkeys(("openid", *scopes))),
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge(code_verifier),
        "code_challenge_method": "S256",
    }
    return AuthorizationRequest(_with_query(authorization_endpoint, params), state, nonce, code_verifier)


def callback_code(params: Mapping[str, str]) -> str:
    """The code from the redirect back (the caller found the pending sign-in by `state`), or the IdP's error."""
    if "error" in params:
        description = params.get("error_description", "")[:200]
        raise SignInError("idp_error", actual=f"{params['error']}: {description}" if description else params["error"])
    code = params.get("code")
    if not code:
        raise SignInError("idp_error", expected="an authorization code", actual="none")
    return code


def token_request(
    *, token_endpoint: str, code: str, redirect_uri: str, client_id: str, client_secret: str, code_verifier: str,
    auth_methods_supported: Sequence[str] | None,
) -> TokenRequest:
    """client_secret_basic unless discovery offers only client_secret_post (basic is the default, OIDC discovery)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}
    headers = {"Accept": "application/json"}
    methods = list(auth_methods_supported or ["client_secret_basic"])
    if "client_secret_basic" in methods:
        # RFC 6749 2.3.1: both parts form-urlencoded before base64
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif "client_secret_post" in methods:
        form |= {"client_id": client_id, "client_secret": client_secret}
    else:
        raise SignInError("token_exchange_failed", "The identity provider accepts no client authentication Portico "
                          "supports.", expected="client_secret_basic or client_secret_post", actual=", ".join(methods))
    return TokenRequest(token_endpoint, form, headers)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    if len(response.content) > MAX_IDP_RESPONSE_BYTES:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def exchange_code(client: httpx.AsyncClient, request: TokenRequest) -> str:
    """POST the token request; the ID token, or token_exchange_failed with the IdP's OAuth error (never the secret)."""
    try:
        response = await client.post(request.url, data=request.form, headers=request.headers)
    except httpx.HTTPError as error:
        raise SignInError("token_exchange_failed", "Portico could not reach the identity provider's token endpoint.",
                          fix_in="identity_provider", actual=_transport_failure(error)) from None
    body = _json_object(response)
    if response.status_code != 200:
        oauth_error = body.get("error") if body else None
        raise SignInError("token_exchange_failed", expected="HTTP 200 with an ID token",
                          actual=f"HTTP {response.status_code}" + (f": {str(oauth_error)[:100]}" if oauth_error else ""))
    id_token = body.get("id_token") if body else None
    if not isinstance(id_token, str) or not id_token:
        raise SignInError("token_exchange_failed", "The identity provider's token response has no ID token; "
                          "check that the openid scope is allowed.", fix_in="identity_provider",
                          expected="an id_token", actual="none")
    return id_token


def _transport_failure(error: httpx.HTTPError) -> str:
    """What went wrong reaching the IdP, for the admin: the error's kind, and its reason when it is a refused
    destination or a failed connection (an address and errno, never a request body)."""
    reason = str(error) if isinstance(error, httpx.ConnectError) else ""
    return f"{type(error).__name__}: {reason[:200]}" if reason else type(error).__name__


async def fetch_jwks(client: httpx.AsyncClient, jwks_uri: str) -> dict[str, Any]:
    try:
        response = await client.get(jwks_uri, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        raise SignInError("id_token_invalid", "Portico could not fetch the identity provider's signing keys.",
                          actual=_transport_failure(error)) from None
    body = _json_object(response)
    if response.status_code != 200 or body is None or not isinstance(body.get("keys"), list):
        raise SignInError("id_token_invalid", "The identity provider's JWKS cannot be read.",
                          expected="HTTP 200 with a JSON key set", actual=f"HTTP {response.status_code}")
    return body


def _header(id_token: str) -> dict[str, Any]:
    if len(id_token) > MAX_ID_TOKEN_CHARS or id_token.count(".") != 2:
        raise SignInError("id_token_invalid", "The ID token is not a signed JWT.", actual="not a JWS compact token")
    try:
        header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
    except ValueError:
        raise SignInError("id_token_invalid", "The ID token's header cannot be read.") from None
    if not isinstance(header, dict):
        raise SignInError("id_token_invalid", "The ID token's header cannot be read.")
    return header


def signing_key(jwks: Mapping[str, Any], key_id: str | None, algorithm: str) -> Key:
    """The JWKS key named by `kid` (or the only key of the algorithm's type when the token names none), checked
    for type, `use` and `alg` before joserfc uses it."""
    key_type = _KEY_TYPES[algorithm[:2]]
    keys = [key for key in jwks.get("keys", []) if isinstance(key, dict) and key.get("kty") == key_type
            and key.get("use", "sig") == "sig" and key.get("alg", algorithm) == algorithm]
    matching = [key for key in keys if key.get("kid") == key_id] if key_id is not None else keys
    if len(matching) != 1:
        raise UnknownKeyId(key_id)
    try:
        return JWKRegistry.import_key(matching[0])
    except (JoseError, ValueError, TypeError):
        raise SignInError("id_token_invalid", "The identity provider publishes a signing key that cannot be "
                          "read.", actual=f"kid {key_id}") from None


def _numeric(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignInError("id_token_invalid", f"The ID token's {name} claim is missing or not a number.",
                          expected=f"{name}: a NumericDate", actual=repr(value)[:100])
    return float(value)


def _check_times(claims: Mapping[str, Any], now: datetime, max_skew: timedelta) -> None:
    """exp, iat and nbf against our clock with a bounded skew; the failure reports by how much it missed."""
    moment, skew = now.timestamp(), max_skew.total_seconds()
    expires = _numeric(claims, "exp", required=True)
    issued = _numeric(claims, "iat", required=True)
    not_before = _numeric(claims, "nbf", required=False)
    assert expires is not None and issued is not None
    if moment >= expires + skew:
        raise SignInError("id_token_invalid", "The ID token has expired.",
                          expected=f"before exp {int(expires)} ({int(skew)} s skew allowed)",
                          actual=f"{int(moment)}: {moment - expires:.0f} s late")
    for name, start in (("iat", issued), ("nbf", not_before)):
        if start is not None and moment < start - skew:
            raise SignInError("id_token_invalid", f"The ID token's {name} is in the future: the identity "
                              "provider's clock is ahead of Portico's.",
                              expected=f"{name} at most {int(skew)} s ahead", actual=f"{start - moment:.0f} s ahead")


def _check_audience(claims: Mapping[str, Any], client_id: str) -> None:
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if client_id not in audiences:
        raise SignInError("id_token_invalid", "The ID token was issued for another client.", expected=client_id,
                          actual=", ".join(str(item) for item in audiences) or "none")
    authorized_party = claims.get("azp")
    if (len(audiences) > 1 or authorized_party is not None) and authorized_party != client_id:
        # OIDC core 3.1.3.7: with several audiences, azp says which client the token was issued to.
        raise SignInError("id_token_invalid", "The ID token was issued to another client (azp).",
                          expected=client_id, actual=str(authorized_party))


def check_claims(
    claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now: datetime, max_skew: timedelta,
) -> None:
    if claims.get("iss") != issuer:
        raise SignInError("id_token_invalid", "The ID token comes from another issuer.", expected=issuer,
                          actual=str(claims.get("iss")))
    _check_audience(claims, client_id)
    _check_times(claims, now, max_skew)
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
        raise SignInError("nonce_mismatch", expected="the nonce of this sign-in",
                          actual="none" if token_nonce is None else "another nonce")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SignInError("id_token_invalid", "The ID token has no subject (sub).", actual="none")


def verify_id_token(
    id_token: str, jwks: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now: datetime,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> IdToken:
    """Signature by a JWKS key with an allowed asymmetric algorithm, then iss, aud/azp, exp/iat/nbf and nonce.
    Raises UnknownKeyId (an id_token_invalid) when the key is not in `jwks`: see verify_id_token_refreshing."""
    header = _header(id_token)
    algorithm = header.get("alg")
    if algorithm not in ID_TOKEN_ALGORITHMS:
        raise SignInError("id_token_invalid", "The ID token is signed with an algorithm Portico refuses.",
                          expected=", ".join(ID_TOKEN_ALGORITHMS), actual=str(algorithm))
    key_id = header.get("kid") if isinstance(header.get("kid"), str) else None
    key = signing_key(jwks, key_id, algorithm)
    try:
        verified = jws.deserialize_compact(id_token, key, algorithms=[algorithm])
        claims = json.loads(verified.payload)
    except (JoseError, ValueError):
        raise SignInError("id_token_invalid", "The ID token's signature does not verify.",
                          actual=f"{algorithm}, kid {key_id}") from None
    if not isinstance(claims, dict):
        raise SignInError("id_token_invalid", "The ID token's payload is not a JSON object.")
    check_claims(claims, issuer=issuer, client_id=client_id, nonce=nonce, now=now, max_skew=max_skew)
    return IdToken(claims, key_id, algorithm)


async def verify_id_token_refreshing(
    id_token: str, jwks: Mapping[str, Any], refresh_jwks: Callable[[], Awaitable[dict[str, Any]]], *, issuer: str,
    client_id: str, nonce: str, now: datetime, max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> tuple[IdToken, Mapping[str, Any]]:
    """verify_id_token with the cached JWKS; on an unknown kid (the IdP rotated its keys) fetch the JWKS once
    and try again. Returns the JWKS used, for the caller to cache."""
    try:
        return verify_id_token(id_token, jwks, issuer=issuer, client_id=client_id, nonce=nonce, now=now,
                               max_skew=max_skew), jwks
    except UnknownKeyId:
        fresh = await refresh_jwks()
    return verify_id_token(id_token, fresh, issuer=issuer, client_id=client_id, nonce=nonce, now=now,
                           max_skew=max_skew), fresh
