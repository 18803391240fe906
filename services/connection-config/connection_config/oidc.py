"""OpenID Connect settings: issuer, client credentials, scopes and the discovery document's checks (no I/O)."""
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from connection_config.model import ConfigWarning, ConnectionProblem
from connection_config.urls import check_url

MAX_DISCOVERY_BYTES = 256 * 1024
MAX_SCOPES = 20
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,128}$")  # RFC 6749 scope-token
_PRINTABLE = re.compile(r"^[\x20-\x7E]+$")


@dataclass(frozen=True)
class Discovery:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    warnings: tuple[ConfigWarning, ...]


def check_issuer(issuer: str, *, allow_http: bool) -> str:
    issuer = check_url(issuer, "oidc.issuer", allow_http=allow_http, what="The issuer")
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise ConnectionProblem(
            "issuer_invalid", "The issuer must not contain a ?query or #fragment; use the bare issuer URL.",
            "oidc.issuer",
        )
    return issuer


def discovery_url(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


def check_client_id(client_id: str) -> str:
    client_id = client_id.strip()
    if not client_id or len(client_id) > 512 or not _PRINTABLE.match(client_id):
        raise ConnectionProblem(
            "client_id_invalid",
            "Paste the client ID exactly as your identity provider shows it (1 to 512 printable characters).",
            "oidc.client_id",
        )
    return client_id


def check_client_secret(client_secret: str) -> str:
    # Never echo the value: the message describes the rule only.
    if not client_secret or len(client_secret) > 2048 or not _PRINTABLE.match(client_secret):
        raise ConnectionProblem(
            "client_secret_invalid",
            "Paste the client secret exactly as your identity provider shows it (1 to 2048 printable characters).",
            "oidc.client_secret",
        )
    if client_secret != client_secret.strip():
        raise ConnectionProblem(
            "client_secret_invalid", "The client secret starts or ends with a space; copy it again without one.",
            "oidc.client_secret",
        )
    return client_secret


def check_scopes(scopes: list[str]) -> tuple[str, ...]:
    if len(scopes) > MAX_SCOPES:
        raise ConnectionProblem("too_many_scopes", f"Request at most {MAX_SCOPES} scopes.", "oidc.scopes")
    for index, scope in enumerate(scopes):
        if not _SCOPE.match(scope):
            raise ConnectionProblem(
                "scope_invalid", f"Scope {index + 1} is not a valid scope name (no spaces or quotes).",
                f"oidc.scopes.{index}",
            )
    if "openid" not in scopes:
        raise ConnectionProblem(
            "openid_scope_required", "The scopes must include 'openid' for an OpenID Connect sign-in.", "oidc.scopes"
        )
    return tuple(dict.fromkeys(scopes))


def parse_discovery(document: bytes, *, issuer: str, scopes: tuple[str, ...], allow_http: bool) -> Discovery:
    """Check the issuer's discovery document: same issuer, the endpoints Portico needs, code flow."""
    field = "oidc.issuer"
    where = f"The discovery document at {discovery_url(issuer)}"
    if len(document) > MAX_DISCOVERY_BYTES:
        raise ConnectionProblem("discovery_too_large", f"{where} is larger than {MAX_DISCOVERY_BYTES // 1024} KiB.", field)
    try:
        values = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        raise ConnectionProblem(
            "discovery_not_json", f"{where} is not JSON; check that the issuer URL is the OpenID Connect issuer.", field
        ) from None
    except RecursionError:  # a few hundred KiB of [[[[… is enough; no real discovery document nests so deep
        raise ConnectionProblem(
            "discovery_not_json", f"{where} is not valid JSON for Portico: its arrays or objects nest too deeply.", field
        ) from None
    if not isinstance(values, dict):
        raise ConnectionProblem("discovery_invalid", f"{where} is not a JSON object.", field)
    published = values.get("issuer")
    if published != issuer:
        same_but_slash = isinstance(published, str) and published.rstrip("/") == issuer.rstrip("/")
        hint = f" Use exactly '{published}' as the issuer." if same_but_slash else ""
        raise ConnectionProblem(
            "issuer_mismatch",
            f"{where} names a different issuer ({published!r}) than the one entered.{hint}",
            field,
        )
    endpoints: dict[str, str] = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = values.get(name)
        if not isinstance(value, str) or not value:
            raise ConnectionProblem("discovery_incomplete", f"{where} has no {name}; Portico needs it to sign users in.", field)
        endpoints[name] = check_url(value, field, allow_http=allow_http, what=f"The {name} in the discovery document")
    userinfo = values.get("userinfo_endpoint")
    userinfo_endpoint = (
        check_url(userinfo, field, allow_http=allow_http, what="The userinfo_endpoint in the discovery document")
        if isinstance(userinfo, str) and userinfo else None
    )
    response_types = values.get("response_types_supported")
    if isinstance(response_types, list) and "code" not in response_types:
        raise ConnectionProblem(
            "code_flow_unsupported", f"{where} does not offer the authorization code flow (response type 'code').", field
        )
    warnings = []
    supported = values.get("scopes_supported")
    if isinstance(supported, list):
        unknown = [scope for scope in scopes if scope not in supported]
        if unknown:
            warnings.append(ConfigWarning(
                "scope_not_advertised",
                f"The identity provider does not list {', '.join(unknown)} among its scopes; sign-in may fail.",
                "oidc.scopes"))
    return Discovery(endpoints["authorization_endpoint"], endpoints["token_endpoint"], endpoints["jwks_uri"],
                     userinfo_endpoint, tuple(warnings))


def redirect_uri(public_url: str, connection_id: str) -> str:
    return f"{public_url.rstrip('/')}/sso/oidc/{connection_id}/callback"
