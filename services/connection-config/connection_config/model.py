"""The SSO connection and its rules: providers, statuses, completeness, transitions and masked diffs (no I/O)."""
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from shared.errors import DomainError, NotFound

ConnectionType = Literal["saml", "oidc"]
Status = Literal["draft", "configured", "enabled", "disabled", "deleted"]

PROVIDERS: dict[ConnectionType, frozenset[str]] = {
    "saml": frozenset({"okta", "entra_id", "google_workspace", "onelogin", "jumpcloud", "ping", "adfs",
                       "auth0", "keycloak", "generic_saml"}),
    "oidc": frozenset({"okta", "entra_id", "google_workspace", "onelogin", "jumpcloud", "ping", "adfs",
                       "auth0", "keycloak", "generic_oidc"}),
}
MAX_CONNECTIONS_PER_ORGANIZATION = 20
SECRET_FIELDS = frozenset({"oidc.client_secret"})


class ConnectionProblem(DomainError):
    """Input or state the admin can fix; `field` is the dotted path of what to change."""


class ConnectionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("not_found", "No such connection in this organization.")


class VersionMismatch(DomainError):
    """The caller's If-Match names an older version: 412 with the current one, in the body and as the ETag."""

    status = 412

    def __init__(self, current_version: int) -> None:
        super().__init__(
            "version_mismatch",
            f"This connection changed since you loaded it; it is now at version {current_version}. "
            "Reload it and apply your change again.",
            headers={"ETag": f'"{current_version}"'},
            current_version=current_version,
        )
        self.current_version = current_version


@dataclass(frozen=True)
class ConfigWarning:
    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field}


@dataclass(frozen=True)
class Certificate:
    pem: str
    fingerprint_sha256: str
    subject: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class AttributeMapping:
    email: str = "email"
    first_name: str = "firstName"
    last_name: str = "lastName"
    groups: str = "groups"


@dataclass(frozen=True)
class SamlSettings:
    idp_entity_id: str | None = None
    sso_url: str | None = None
    sso_binding: str = "HTTP-Redirect"
    certificates: tuple[Certificate, ...] = ()
    name_id_format: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    attribute_mapping: AttributeMapping = AttributeMapping()
    metadata_url: str | None = None


@dataclass(frozen=True)
class OidcSettings:
    issuer: str | None = None
    client_id: str | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None
    userinfo_endpoint: str | None = None


@dataclass(frozen=True)
class SealedSecret:
    """A secret encrypted at rest: the id of the key that sealed it, and nonce + ciphertext + tag."""

    key_id: str
    ciphertext: bytes


@dataclass(frozen=True)
class Connection:
    id: str
    organization_id: str
    type: ConnectionType
    provider: str
    status: Status
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    saml: SamlSettings | None = None
    oidc: OidcSettings | None = None
    client_secret: SealedSecret | None = None
    # Findings of the last validation worth showing until the next change (e.g. skipped certificates).
    notes: tuple[ConfigWarning, ...] = field(default=())
    # The version whose IdP settings are the current ones (created or last updated; enabling and disabling
    # do not change them), and the latest version a connection test succeeded on.
    settings_version: int = 1
    tested_version: int | None = None


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new}


def check_provider(connection_type: ConnectionType, provider: str) -> str:
    if provider not in PROVIDERS[connection_type]:
        choices = ", ".join(sorted(PROVIDERS[connection_type]))
        raise ConnectionProblem(
            "invalid_provider", f"'{provider}' is not a {connection_type.upper()} provider Portico knows; use one of: {choices}.",
            "provider",
        )
    return provider


def missing_fields(connection: Connection) -> list[str]:
    """Dotted paths still needed before the connection can be enabled."""
    if connection.type == "saml":
        saml = connection.saml or SamlSettings()
        missing = [name for name in ("idp_entity_id", "sso_url") if not getattr(saml, name)]
        if not saml.certificates:
            missing.append("certificates")
        return [f"saml.{name}" for name in missing]
    oidc = connection.oidc or OidcSettings()
    missing = [name for name in ("issuer", "client_id") if not getattr(oidc, name)]
    if connection.client_secret is None:
        missing.append("client_secret")
    return [f"oidc.{name}" for name in missing]


def settled_status(connection: Connection) -> Status:
    """After an edit: a draft becomes configured once complete; other statuses stay as they are."""
    if connection.status == "draft" and not missing_fields(connection):
        return "configured"
    return connection.status


def ensure_certificates_usable(connection: Connection, now: datetime) -> None:
    """A SAML connection can only be enabled with at least one certificate that is valid now."""
    if connection.type != "saml" or connection.saml is None:
        return
    if not any(cert.not_before <= now < cert.not_after for cert in connection.saml.certificates):
        raise ConnectionProblem(
            "certificate_expired",
            "Every signing certificate of this connection is expired or not yet valid; upload the "
            "identity provider's current certificate or metadata, then enable it.",
            "saml.certificates",
        )


def is_tested(connection: Connection) -> bool:
    """Whether the current IdP settings have passed a connection test (a test of an earlier version does not count)."""
    return connection.tested_version is not None and connection.tested_version >= connection.settings_version


def enable(connection: Connection, *, now: datetime, actor: str) -> Connection:
    if connection.status == "enabled":
        return connection
    if connection.status == "draft":
        missing = missing_fields(connection)
        raise ConnectionProblem(
            "connection_incomplete",
            f"This connection cannot be enabled yet: fill in {', '.join(missing)}.",
            missing[0] if missing else None,
            status=409,
        )
    ensure_certificates_usable(connection, now)
    if not is_tested(connection):
        raise ConnectionProblem(
            "connection_not_tested",
            "Test this connection before enabling it: sign in once at the identity provider with Test connection, "
            "then enable it. A test of earlier details does not count.",
            None,
            status=409,
        )
    return replace(connection, status="enabled", version=connection.version + 1, updated_at=now, updated_by=actor)


def disable(connection: Connection, *, now: datetime, actor: str) -> Connection:
    if connection.status == "disabled":
        return connection
    if connection.status != "enabled":
        raise ConnectionProblem(
            "not_enabled", f"Only an enabled connection can be disabled; this one is {connection.status}.",
            "status", status=409,
        )
    return replace(connection, status="disabled", version=connection.version + 1, updated_at=now, updated_by=actor)


def mark_deleted(connection: Connection, *, now: datetime, actor: str) -> Connection:
    """Deleted connections keep their history but lose their secret."""
    return replace(connection, status="deleted", version=connection.version + 1, updated_at=now, updated_by=actor,
                   client_secret=None)


def check_version(connection: Connection, expected: int | None) -> None:
    if expected is not None and expected != connection.version:
        raise VersionMismatch(connection.version)


def comparable_fields(connection: Connection) -> dict[str, Any]:
    """Flat dotted view of what an admin can change, secrets reduced to whether they are set."""
    fields: dict[str, Any] = {"provider": connection.provider, "status": connection.status}
    if connection.saml is not None:
        saml = connection.saml
        fields.update({
            "saml.idp_entity_id": saml.idp_entity_id,
            "saml.sso_url": saml.sso_url,
            "saml.sso_binding": saml.sso_binding,
            "saml.certificates": [cert.fingerprint_sha256 for cert in saml.certificates],
            "saml.name_id_format": saml.name_id_format,
            "saml.metadata_url": saml.metadata_url,
        })
        for name, value in vars(saml.attribute_mapping).items():
            fields[f"saml.attribute_mapping.{name}"] = value
    if connection.oidc is not None:
        oidc = connection.oidc
        fields.update({
            "oidc.issuer": oidc.issuer,
            "oidc.client_id": oidc.client_id,
            "oidc.scopes": list(oidc.scopes),
            "oidc.authorization_endpoint": oidc.authorization_endpoint,
            "oidc.token_endpoint": oidc.token_endpoint,
            "oidc.jwks_uri": oidc.jwks_uri,
            "oidc.userinfo_endpoint": oidc.userinfo_endpoint,
        })
    return fields


def diff(old: Connection | None, new: Connection, *, secret_changed: bool = False) -> list[FieldChange]:
    """Field-level changes from `old` to `new`; a secret shows only as "[set]" / "[changed]"."""
    before = comparable_fields(old) if old is not None else {}
    after = comparable_fields(new)
    changes = [
        FieldChange(name, before.get(name), value)
        for name, value in after.items()
        if before.get(name) != value
    ]
    had_secret = old is not None and old.client_secret is not None
    if secret_changed or (had_secret and new.client_secret is None):
        changes.append(FieldChange(
            "oidc.client_secret",
            "[set]" if had_secret else None,
            "[changed]" if new.client_secret is not None else None,
        ))
    return changes
