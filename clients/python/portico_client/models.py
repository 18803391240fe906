"""The management API's resources as typed, immutable models (fields Portico adds later are kept, not refused)."""
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Resource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class Organization(Resource):
    id: str
    display_name: str
    external_id: str | None = None
    allowed_frame_ancestors: list[str] = Field(default_factory=list)
    created_at: datetime


class PortalLink(Resource):
    """A link just issued: `location` is where to send the IT admin (it is shown only now)."""

    id: str
    kind: Literal["magic", "shareable"]
    location: str
    expire_time: datetime


class LinkSummary(Resource):
    """A link as listed later: never its location.

    `state` is live, used (a magic link someone opened), expired or revoked; "used" follows the
    redemption by the time its event reaches link-issuer (milliseconds). None from older Portico servers.
    """

    id: str
    kind: Literal["magic", "shareable"]
    expire_time: datetime
    created_at: datetime
    revoked: bool
    state: Literal["live", "used", "expired", "revoked"] | None = None
    created_by: str | None = None


class ConnectionWarning(Resource):
    code: str
    message: str
    field: str | None = None


class SamlServiceProvider(Resource):
    entity_id: str
    acs_url: str
    metadata_url: str


class OidcServiceProvider(Resource):
    redirect_uri: str


class Certificate(Resource):
    fingerprint_sha256: str
    not_after: datetime
    subject: str


class SamlSettings(Resource):
    idp_entity_id: str | None = None
    sso_url: str | None = None
    certificates: list[Certificate] = Field(default_factory=list)


class OidcSettings(Resource):
    issuer: str | None = None
    client_id: str | None = None
    client_secret_set: bool = False
    scopes: list[str] = Field(default_factory=list)
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    jwks_uri: str | None = None


class Connection(Resource):
    """An SSO connection as the management API shows it; secrets are never part of it."""

    id: str
    organization_id: str
    type: Literal["saml", "oidc"]
    provider: str
    status: Literal["draft", "configured", "enabled", "disabled"]
    version: int
    tested: bool = Field(default=False, description="Its current details passed a connection test: Enable is accepted.")
    created_at: datetime | None = None
    updated_at: datetime
    updated_by: str | None = None
    warnings: list[ConnectionWarning] = Field(default_factory=list)
    sp: SamlServiceProvider | OidcServiceProvider | None = None
    saml: SamlSettings | None = None
    oidc: OidcSettings | None = None


class AuditActor(Resource):
    kind: str
    id: str | None = None
    client_address: str | None = None
    user_agent: str | None = None


class AuditEvent(Resource):
    """One record of the hash-chained audit log: the event as it was received, and its place in the chain."""

    sequence: int
    organization_id: str | None = None
    organization_sequence: int | None = None
    event_id: str
    type: str
    dataversion: int
    time: datetime
    recorded_at: datetime
    source: str
    actor: AuditActor
    target: str | None = None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def typed_data(self) -> Any:
        """`data` as its portico-events model (install clients/events); raises KeyError for an unknown type."""
        try:
            from portico_events import CATALOGUE
        except ImportError as error:
            raise ImportError("typed_data() needs the portico-events package (pip install ./clients/events)") from error
        return CATALOGUE[self.type].model_validate(self.data)


class AuditEventPage(Resource):
    events: list[AuditEvent]
    next_cursor: str | None = None


class VerifyReport(Resource):
    """`ok` is False when a record or checkpoint does not match; `first_broken` says which and why.

    `checked` records were recomputed, the last being `last_sequence` with hash `last_hash`; records up to
    `archived_through` are archived (the chains continue from the archive's heads); `checkpoints_checked`
    signed checkpoints were held against the trusted key. The fields are in the order the API sends them.
    """

    ok: bool
    organization_id: str | None = None
    checked: int
    last_sequence: int | None = None
    last_hash: str | None = None
    archived_through: int = 0
    checkpoints_checked: int = 0
    first_broken: dict[str, Any] | None = None


class ExportResult(Resource):
    path: Path | None = Field(description="The file written, or None when written to a file object.")
    format: Literal["jsonl", "csv"]
    records: int
    bytes: int


class Profile(Resource):
    """Who signed in: what the IdP said, normalized (`raw_attributes` holds every attribute or claim as sent)."""

    id: str
    idp_id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    groups: list[str] = Field(default_factory=list)
    raw_attributes: dict[str, Any] = Field(default_factory=dict)
    connection_id: str
    connection_type: Literal["saml", "oidc"]
    organization_id: str


class SignInAttempt(Resource):
    """One sign-in through a connection (`kind` sign_in) or a test of it (`test`); `subject` and `email` only
    when it succeeded, `error_code` and `fix_in` when it failed. Never an assertion, token or attribute."""

    id: str
    kind: Literal["sign_in", "test"]
    status: Literal["pending", "succeeded", "failed"]
    connection_id: str
    connection_version: int
    organization_id: str
    error_code: str | None = None
    fix_in: Literal["identity_provider", "portico"] | None = None
    subject: str | None = None
    email: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    duration_ms: int | None = None


class SignInPage(Resource):
    sign_ins: list[SignInAttempt]
    next_cursor: str | None = None
