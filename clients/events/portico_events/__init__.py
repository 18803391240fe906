"""The CloudEvents 1.0 envelope and Portico's typed event catalogue (one model per type and version)."""
import secrets
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

__version__ = "0.1.0"

__all__ = [
    "ALL_TOPICS",
    "CATALOGUE",
    "CONTENT_TYPE",
    "INSTALLATION",
    "SPEC_VERSION",
    "SYSTEM",
    "TOPIC_CONNECTIONS",
    "TOPIC_LINKS",
    "TOPIC_SESSIONS",
    "Actor",
    "ApiKeyCreated",
    "ApiKeyRevoked",
    "AuditLogExported",
    "AuditLogVerified",
    "CloudEvent",
    "ConnectionCreated",
    "ConnectionDeleted",
    "ConnectionDisabled",
    "ConnectionEnabled",
    "ConnectionEvent",
    "ConnectionTestFailed",
    "ConnectionTestSucceeded",
    "ConnectionUpdated",
    "ConnectionViewed",
    "EventData",
    "OperatorCreated",
    "OperatorDisabled",
    "OperatorPasswordChanged",
    "OperatorPasswordReset",
    "OperatorSignInFailed",
    "OperatorSignedIn",
    "OperatorSignedOut",
    "OrganizationCreated",
    "PortalLinkIssued",
    "PortalLinkRedeemed",
    "PortalLinkRevoked",
    "PortalSessionEnded",
    "PortalSessionStarted",
    "SignInAttemptEvent",
    "SignInFailedEvent",
    "SignInSucceededEvent",
    "SsoSignInFailed",
    "SsoSignedIn",
    "UnknownEventType",
]

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"

TOPIC_LINKS = "portico.links"
TOPIC_SESSIONS = "portico.sessions"
TOPIC_CONNECTIONS = "portico.connections"
ALL_TOPICS = (TOPIC_LINKS, TOPIC_SESSIONS, TOPIC_CONNECTIONS)
# The organization_id (and subject) of events about the installation itself rather than one customer:
# operators signing in, API keys, audit exports. They chain in the audit log like an organization's.
INSTALLATION = "portico"

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase; the same ids as shared.ids


def _new_event_id() -> str:
    """`evt_` and 128 random bits in base32 (this package must not depend on Portico's server code)."""
    number = int.from_bytes(secrets.token_bytes(16), "big")
    chars = []
    for _ in range(26):
        number, digit = divmod(number, 32)
        chars.append(_ID_ALPHABET[digit])
    return f"evt_{''.join(reversed(chars))}"


class Actor(BaseModel):
    """Who caused an event: an API key, an operator, a portal session, or Portico itself."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["api_key", "operator", "portal_session", "system"]
    id: str | None = None
    client_address: str | None = None
    user_agent: str | None = None

    @property
    def reference(self) -> str:
        """`kind:id` (`api_key:key_…`, `operator:opr_…`), or the kind alone: how records and headers name the actor."""
        return f"{self.kind}:{self.id}" if self.id else self.kind


SYSTEM = Actor(kind="system")


class EventData(BaseModel):
    """Base of every event payload. Subclasses name their type, version and topic once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]

    organization_id: str
    actor: Actor = SYSTEM


class OrganizationCreated(EventData):
    """An organization was created through the management API or the console."""

    event_type: ClassVar[str] = "portico.organization.created"
    topic: ClassVar[str] = TOPIC_LINKS
    display_name: str
    external_id: str | None = None
    allowed_frame_ancestors: list[str] = Field(default_factory=list)


class PortalLinkIssued(EventData):
    """A magic or shareable portal link was issued (identified by its hash, never its token)."""

    event_type: ClassVar[str] = "portico.portal_link.issued"
    topic: ClassVar[str] = TOPIC_LINKS
    link_id: str
    kind: Literal["magic", "shareable"]
    token_sha256: str = Field(description="Hex SHA-256 of the link secret; the secret itself never leaves the API answer.")
    expire_time: datetime
    return_url: str | None = None
    success_url: str | None = None


class PortalLinkRevoked(EventData):
    """A shareable or magic link was revoked; its sessions end."""

    event_type: ClassVar[str] = "portico.portal_link.revoked"
    topic: ClassVar[str] = TOPIC_LINKS
    link_id: str


class PortalLinkRedeemed(EventData):
    """A link was opened and started a portal session."""

    event_type: ClassVar[str] = "portico.portal_link.redeemed"
    topic: ClassVar[str] = TOPIC_SESSIONS
    link_id: str
    session_id: str


class PortalSessionStarted(EventData):
    """A portal session began for one organization."""

    event_type: ClassVar[str] = "portico.portal_session.started"
    topic: ClassVar[str] = TOPIC_SESSIONS
    session_id: str
    link_id: str
    expire_time: datetime | None = None


class PortalSessionEnded(EventData):
    """A portal session ended, with the reason."""

    event_type: ClassVar[str] = "portico.portal_session.ended"
    topic: ClassVar[str] = TOPIC_SESSIONS
    session_id: str
    link_id: str
    reason: Literal["setup_completed", "link_revoked", "link_expired", "inactive", "signed_out"]


class ConnectionEvent(EventData):
    """Fields every connection event carries; never a secret, only whether one is set."""

    topic: ClassVar[str] = TOPIC_CONNECTIONS
    connection_id: str
    connection_type: Literal["saml", "oidc"]
    provider: str
    status: Literal["draft", "configured", "enabled", "disabled", "deleted"]
    version: int


class ConnectionViewed(EventData):
    """Someone read one connection, or the list of an organization's connections."""

    event_type: ClassVar[str] = "portico.connection.viewed"
    topic: ClassVar[str] = TOPIC_CONNECTIONS
    connection_id: str | None = Field(default=None, description="None when a list of connections was viewed.")
    connection_ids: list[str] | None = Field(default=None, description="The connections a list view showed.")


class ConnectionCreated(ConnectionEvent):
    """A SAML or OIDC connection was created (version 1)."""

    event_type: ClassVar[str] = "portico.connection.created"


class ConnectionUpdated(ConnectionEvent):
    """A connection's settings changed; `changed_fields` names them."""

    event_type: ClassVar[str] = "portico.connection.updated"
    changed_fields: list[str] = Field(default_factory=list, description="Dotted paths; secrets appear by name only.")


class ConnectionEnabled(ConnectionEvent):
    """A connection was enabled for sign-in."""

    event_type: ClassVar[str] = "portico.connection.enabled"


class ConnectionDisabled(ConnectionEvent):
    """A connection was disabled."""

    event_type: ClassVar[str] = "portico.connection.disabled"


class ConnectionDeleted(ConnectionEvent):
    """A connection was deleted; `status` is `deleted`."""

    event_type: ClassVar[str] = "portico.connection.deleted"


class SignInAttemptEvent(EventData):
    """Fields every sign-in and connection-test event carries: which attempt, on which connection version,
    and how long it took. Never an assertion, a token, a signature value or a secret."""

    topic: ClassVar[str] = TOPIC_CONNECTIONS
    attempt_id: str = Field(description="sgn_… for an app's sign-in, tst_… for a connection test.")
    connection_id: str
    connection_type: Literal["saml", "oidc"]
    version: int = Field(description="The connection's version the attempt ran on.")
    duration_ms: int = Field(description="From the start of the attempt (the redirect to the IdP) to its end.")
    verify_ms: int | None = Field(default=None, description="Portico's own time on the IdP's answer.")


class SignInSucceededEvent(SignInAttemptEvent):
    subject: str = Field(description="The user's id at the identity provider (NameID or sub).")
    email: str


class SignInFailedEvent(SignInAttemptEvent):
    error_code: str = Field(description="A sign-in error code (BRIEF §5), e.g. signature_invalid.")
    fix_in: Literal["identity_provider", "portico"]


class SsoSignedIn(SignInSucceededEvent):
    """A user signed in to an app through a connection; the app got a one-time code for the profile."""

    event_type: ClassVar[str] = "portico.sso.signed_in"


class SsoSignInFailed(SignInFailedEvent):
    """An app's sign-in failed; the app got error=<code>, nobody was signed in."""

    event_type: ClassVar[str] = "portico.sso.sign_in_failed"


class ConnectionTestSucceeded(SignInSucceededEvent):
    """An admin's test sign-in through a connection succeeded (no code is ever issued for a test)."""

    event_type: ClassVar[str] = "portico.connection.test_succeeded"


class ConnectionTestFailed(SignInFailedEvent):
    """An admin's test sign-in through a connection failed."""

    event_type: ClassVar[str] = "portico.connection.test_failed"


class OperatorEvent(EventData):
    """Fields every operator-account event carries. `organization_id` is `portico` (the installation)."""

    topic: ClassVar[str] = TOPIC_LINKS
    organization_id: str = INSTALLATION
    operator_id: str


class OperatorSignedIn(OperatorEvent):
    """An operator signed in to the console."""

    event_type: ClassVar[str] = "portico.operator.signed_in"
    email: str


class OperatorSignInFailed(EventData):
    """A console sign-in was refused: a wrong password, an unknown or disabled account, or a lockout."""

    event_type: ClassVar[str] = "portico.operator.sign_in_failed"
    topic: ClassVar[str] = TOPIC_LINKS
    organization_id: str = INSTALLATION
    email: str = Field(description=(
        "The email as typed, trimmed and lower-cased, when it reads as an address (at most 254 characters); "
        "anything else as hmac-sha256:<16 hex>, so a password typed into the field is never kept."
    ))
    operator_id: str | None = Field(default=None, description="The account the email names, when there is one.")
    reason: Literal["invalid_credentials", "locked_out"]


class OperatorSignedOut(OperatorEvent):
    """An operator signed out; the console session ended on the server."""

    event_type: ClassVar[str] = "portico.operator.signed_out"


class OperatorCreated(OperatorEvent):
    """An operator account was created (with a one-time password, which no event carries)."""

    event_type: ClassVar[str] = "portico.operator.created"
    email: str
    role: Literal["admin", "support", "auditor"]


class OperatorDisabled(OperatorEvent):
    """An operator account was disabled; its console sessions ended."""

    event_type: ClassVar[str] = "portico.operator.disabled"


class OperatorPasswordReset(OperatorEvent):
    """An operator's password was replaced by a one-time password; their console sessions ended."""

    event_type: ClassVar[str] = "portico.operator.password_reset"


class OperatorPasswordChanged(OperatorEvent):
    """An operator changed their own password."""

    event_type: ClassVar[str] = "portico.operator.password_changed"


class ApiKeyCreated(EventData):
    """A management API key was created (its secret is in no event)."""

    event_type: ClassVar[str] = "portico.api_key.created"
    topic: ClassVar[str] = TOPIC_LINKS
    organization_id: str = INSTALLATION
    api_key_id: str
    name: str


class ApiKeyRevoked(EventData):
    """A management API key was revoked."""

    event_type: ClassVar[str] = "portico.api_key.revoked"
    topic: ClassVar[str] = TOPIC_LINKS
    organization_id: str = INSTALLATION
    api_key_id: str


class AuditLogExported(EventData):
    """Someone exported the audit log; `filters` is what they asked for."""

    event_type: ClassVar[str] = "portico.audit_log.exported"
    topic: ClassVar[str] = TOPIC_LINKS
    organization_id: str = INSTALLATION
    format: Literal["jsonl", "csv"]
    filters: dict[str, str] = Field(default_factory=dict, description="organization_id, type, actor, since, until as given.")


class AuditLogVerified(EventData):
    """Someone verified the audit log's hash chains, and what verify answered."""

    event_type: ClassVar[str] = "portico.audit_log.verified"
    topic: ClassVar[str] = TOPIC_LINKS
    organization_id: str = INSTALLATION
    verified_organization_id: str | None = Field(default=None, description="The one organization checked; None for all.")
    ok: bool
    checked: int


CATALOGUE: dict[str, type[EventData]] = {
    model.event_type: model
    for model in (
        OrganizationCreated,
        PortalLinkIssued,
        PortalLinkRevoked,
        PortalLinkRedeemed,
        PortalSessionStarted,
        PortalSessionEnded,
        ConnectionViewed,
        ConnectionCreated,
        ConnectionUpdated,
        ConnectionEnabled,
        ConnectionDisabled,
        ConnectionDeleted,
        ConnectionTestSucceeded,
        ConnectionTestFailed,
        SsoSignedIn,
        SsoSignInFailed,
        OperatorSignedIn,
        OperatorSignInFailed,
        OperatorSignedOut,
        OperatorCreated,
        OperatorDisabled,
        OperatorPasswordReset,
        OperatorPasswordChanged,
        ApiKeyCreated,
        ApiKeyRevoked,
        AuditLogExported,
        AuditLogVerified,
    )
}


class UnknownEventType(ValueError):
    pass


def _unset(value: object) -> bool:
    return value is None


def _absent_when_unset(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope in structured JSON mode; `subject` is the organization id."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = SPEC_VERSION
    id: str
    source: str
    type: str
    time: datetime
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    dataversion: int = Field(description="Extension attribute: the version of `type`'s data schema.")
    # CloudEvents distributed tracing extension: present only when the producer traces (docs/tracing.md). Unset,
    # it is left out of the JSON, not null, so an untraced event is byte for byte what it was before; the schema
    # says a string that may be absent.
    traceparent: str | SkipJsonSchema[None] = Field(
        default=None,
        exclude_if=_unset,
        json_schema_extra=_absent_when_unset,
        description="Extension attribute (CloudEvents distributed tracing): the W3C `traceparent` of the "
        "operation that caused the event. Present only when the producer has tracing on.",
    )
    tracestate: str | SkipJsonSchema[None] = Field(
        default=None,
        exclude_if=_unset,
        json_schema_extra=_absent_when_unset,
        description="Extension attribute (CloudEvents distributed tracing): the W3C `tracestate` that goes with "
        "`traceparent`, when there is one.",
    )
    data: dict[str, Any]

    @classmethod
    def wrap(cls, data: EventData, *, source: str, time: datetime, event_id: str | None = None) -> "CloudEvent":
        return cls(
            id=event_id or _new_event_id(),
            source=source,
            type=data.event_type,
            time=time,
            subject=data.organization_id,
            dataversion=data.event_version,
            data=data.model_dump(mode="json"),
        )

    @property
    def topic(self) -> str:
        return self.model().topic

    def model(self) -> type[EventData]:
        try:
            return CATALOGUE[self.type]
        except KeyError:
            raise UnknownEventType(self.type) from None

    def typed_data(self) -> EventData:
        """The payload as its catalogue model; raises UnknownEventType or a validation error.

        Fields this copy of the catalogue does not know are left out rather than refused: a newer
        producer may add optional fields (a compatible change), and a consumer must not stall on them.
        Building a payload stays strict (`extra="forbid"`), so nothing unplanned is ever published.
        """
        model = self.model()
        return model.model_validate({name: value for name, value in self.data.items() if name in model.model_fields})

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "CloudEvent":
        return cls.model_validate_json(raw)
