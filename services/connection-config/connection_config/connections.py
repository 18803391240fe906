"""Use cases of connection-config: fetch and validate input, then change Postgres and the outbox in one transaction."""
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from connection_config import editing, oidc, saml, store, views
from connection_config.metrics import count_change
from connection_config.model import (
    MAX_CONNECTIONS_PER_ORGANIZATION,
    Connection,
    ConnectionNotFound,
    ConnectionProblem,
    OidcSettings,
    SamlSettings,
    SealedSecret,
    check_provider,
    check_version,
    diff,
    disable,
    enable,
    mark_deleted,
    settled_status,
)
from connection_config.outbound import Fetcher
from connection_config.schemas import CreateConnection, OidcInput, SamlInput, UpdateConnection
from connection_config.secretbox import Keyring, SecretUnavailable
from connection_config.urls import check_url
from portico_events import (
    Actor,
    CloudEvent,
    ConnectionCreated,
    ConnectionDeleted,
    ConnectionDisabled,
    ConnectionEnabled,
    ConnectionEvent,
    ConnectionUpdated,
    ConnectionViewed,
)
from shared.db import PgConnection
from shared.ids import Clock, new_id
from shared.outbox import enqueue_events

SOURCE = "/portico/connection-config"
SECRET_PURPOSE = "oidc.client_secret"
# An organization created a moment ago may still be on its way through Kafka: wait this long for it.
ORGANIZATION_ARRIVAL_POLLS = 20
ORGANIZATION_ARRIVAL_INTERVAL_S = 0.1
_TRANSITIONS: dict[str, tuple[Callable[..., Connection], type[ConnectionEvent]]] = {
    "enabled": (enable, ConnectionEnabled),
    "disabled": (disable, ConnectionDisabled),
    "deleted": (mark_deleted, ConnectionDeleted),
}


@dataclass
class ConnectionService:
    pool: Callable[[], asyncpg.Pool]
    keyring: Keyring
    fetcher: Fetcher
    clock: Clock
    public_url: str

    # Reads -----------------------------------------------------------------------------------

    async def list_connections(self, organization_id: str, actor: Actor, *, require_known_organization: bool) -> list[dict[str, Any]]:
        """The organization's connections; the read itself is recorded as a `connection.viewed` event."""
        if require_known_organization and not await self._organization_arrived(organization_id):
            raise ConnectionNotFound()
        now = self.clock.now()
        async with self.pool().acquire() as db, db.transaction():
            connections = await store.list_connections(db, organization_id)
            await enqueue_events(db, [self._wrap(ConnectionViewed(
                organization_id=organization_id, actor=actor, connection_ids=[c.id for c in connections]), now)])
        return [self._render(connection, now) for connection in connections]

    async def get(self, organization_id: str, connection_id: str, actor: Actor) -> dict[str, Any]:
        now = self.clock.now()
        async with self.pool().acquire() as db, db.transaction():
            connection = await self._find(db, organization_id, connection_id)
            await enqueue_events(db, [self._wrap(ConnectionViewed(
                organization_id=organization_id, actor=actor, connection_id=connection.id), now)])
        return self._render(connection, now)

    async def service_provider_metadata(self, connection_id: str) -> bytes:
        connection = await store.find_connection(self.pool(), connection_id)
        if connection is None or connection.type != "saml":
            raise ConnectionNotFound()
        settings = connection.saml or SamlSettings()
        return saml.render_sp_metadata(self.public_url, connection.id, settings.name_id_format)

    # Changes ---------------------------------------------------------------------------------

    async def create(self, organization_id: str, actor: Actor, request: CreateConnection) -> dict[str, Any]:
        now = self.clock.now()
        provider = check_provider(request.type, request.provider)
        self._check_sections(request.type, request.saml, request.oidc)
        connection_id = new_id("conn")
        label = actor.reference
        connection = Connection(
            id=connection_id, organization_id=organization_id, type=request.type, provider=provider, status="draft",
            version=1, created_at=now, created_by=label, updated_at=now, updated_by=label,
        )
        connection, secret_changed = await self._apply_input(connection, request.saml, request.oidc, now)
        connection = replace(connection, status=settled_status(connection))
        async with self.pool().acquire() as db, db.transaction():
            if await store.lock_organization_connections(db, organization_id) >= MAX_CONNECTIONS_PER_ORGANIZATION:
                raise ConnectionProblem(
                    "too_many_connections",
                    f"An organization can have at most {MAX_CONNECTIONS_PER_ORGANIZATION} connections; delete one first.",
                    status=409,
                )
            await store.insert_connection(db, connection)
            await store.append_version(db, connection, "created", diff(None, connection, secret_changed=secret_changed))
            await enqueue_events(db, [self._wrap(self._event(ConnectionCreated, connection, actor), now)])
        count_change(connection.type, "created")
        return self._render(connection, now)

    async def update(
        self, organization_id: str, connection_id: str, actor: Actor, request: UpdateConnection, expected_version: int
    ) -> dict[str, Any]:
        now = self.clock.now()
        current = await self._find(self.pool(), organization_id, connection_id)
        check_version(current, expected_version)  # fail fast, before any fetch
        if request.type is not None and request.type != current.type:
            raise ConnectionProblem(
                "type_immutable", f"This is a {current.type.upper()} connection; create a new connection for another type.",
                "type",
            )
        self._check_sections(current.type, request.saml, request.oidc)
        provider = check_provider(current.type, request.provider) if request.provider is not None else current.provider
        changed, secret_changed = await self._apply_input(replace(current, provider=provider), request.saml, request.oidc, now)
        changed = replace(changed, status=settled_status(changed))
        changes = diff(current, changed, secret_changed=secret_changed)
        if not changes:
            return self._render(current, now)
        changed = replace(self._rewrapped(changed), version=current.version + 1, settings_version=current.version + 1,
                          updated_at=now, updated_by=actor.reference)
        async with self.pool().acquire() as db, db.transaction():
            locked = await self._find(db, organization_id, connection_id, for_update=True)
            check_version(locked, current.version)  # someone else changed it while we fetched
            await store.save_connection(db, changed)
            await store.append_version(db, changed, "updated", changes)
            event = self._event(ConnectionUpdated, changed, actor, changed_fields=[change.field for change in changes])
            await enqueue_events(db, [self._wrap(event, now)])
        count_change(changed.type, "updated")
        return self._render(changed, now)

    async def transition(
        self, organization_id: str, connection_id: str, actor: Actor, action: str, expected_version: int | None
    ) -> dict[str, Any]:
        """enable / disable / delete; repeating the current state is a no-op without a new version."""
        apply, event_type = _TRANSITIONS[action]
        now = self.clock.now()
        async with self.pool().acquire() as db, db.transaction():
            current = await self._find(db, organization_id, connection_id, for_update=True)
            check_version(current, expected_version)
            changed = apply(current, now=now, actor=actor.reference)
            if changed is current:
                return self._render(current, now)
            if action != "deleted":
                changed = self._rewrapped(changed)
            await store.save_connection(db, changed)
            await store.append_version(db, changed, action, diff(current, changed))
            await enqueue_events(db, [self._wrap(self._event(event_type, changed, actor), now)])
        count_change(changed.type, action)
        return self._render(changed, now)

    # Helpers ---------------------------------------------------------------------------------

    async def _find(
        self, db: asyncpg.Pool | PgConnection, organization_id: str, connection_id: str, *, for_update: bool = False
    ) -> Connection:
        connection = await store.find_connection(db, connection_id, organization_id=organization_id, for_update=for_update)
        if connection is None:
            raise ConnectionNotFound()
        return connection

    async def _organization_arrived(self, organization_id: str) -> bool:
        for attempt in range(ORGANIZATION_ARRIVAL_POLLS):
            if await store.organization_exists(self.pool(), organization_id):
                return True
            if attempt < ORGANIZATION_ARRIVAL_POLLS - 1:
                await asyncio.sleep(ORGANIZATION_ARRIVAL_INTERVAL_S)
        return False

    @staticmethod
    def _check_sections(connection_type: str, saml_input: SamlInput | None, oidc_input: OidcInput | None) -> None:
        other = oidc_input if connection_type == "saml" else saml_input
        if other is not None:
            name = "oidc" if connection_type == "saml" else "saml"
            raise ConnectionProblem(
                "wrong_section", f"A {connection_type.upper()} connection takes a '{connection_type}' object, not '{name}'.",
                name,
            )

    async def _apply_input(
        self, connection: Connection, saml_input: SamlInput | None, oidc_input: OidcInput | None, now: datetime
    ) -> tuple[Connection, bool]:
        """The connection with the admin's input applied (fetching what it points to); and whether the secret changed."""
        if connection.type == "saml":
            current_saml = connection.saml or editing.default_saml()
            if saml_input is None:
                return replace(connection, saml=current_saml), False
            settings, notes = await self._resolve_saml(current_saml, saml_input, now)
            return replace(connection, saml=settings, notes=connection.notes if notes is None else notes), False
        current_oidc = connection.oidc or OidcSettings()
        if oidc_input is None:
            return replace(connection, oidc=current_oidc), False
        settings_oidc, notes = await self._resolve_oidc(current_oidc, oidc_input)
        secret: SealedSecret | None = connection.client_secret
        if oidc_input.client_secret is not None:
            secret = self.keyring.seal(oidc.check_client_secret(oidc_input.client_secret),
                                       connection_id=connection.id, purpose=SECRET_PURPOSE)
        changed = replace(connection, oidc=settings_oidc, client_secret=secret,
                          notes=connection.notes if notes is None else notes)
        return changed, oidc_input.client_secret is not None

    async def _resolve_saml(
        self, current: SamlSettings, change: SamlInput, now: datetime
    ) -> tuple[SamlSettings, Any]:
        editing.check_saml_sources(change)
        metadata = None
        if change.metadata_url is not None:
            what = "The metadata URL"
            allow_http = self.fetcher.policy.allows(change.metadata_url.strip())
            url = check_url(change.metadata_url, "saml.metadata_url", allow_http=allow_http, what=what)
            document = await self.fetcher.fetch(
                url, field="saml.metadata_url", max_bytes=saml.MAX_METADATA_BYTES,
                accept="application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8", what=what,
            )
            metadata = saml.parse_idp_metadata(document, now=now, field="saml.metadata_url",
                                               source="The document at the metadata URL")
            change = change.model_copy(update={"metadata_url": url})
        elif change.metadata_xml is not None:
            metadata = saml.parse_idp_metadata(saml.pasted_metadata(change.metadata_xml), now=now, field="saml.metadata_xml",
                                               source="The metadata XML")
        return editing.apply_saml(current, change, metadata=metadata, now=now)

    async def _resolve_oidc(self, current: OidcSettings, change: OidcInput) -> tuple[OidcSettings, Any]:
        scopes = editing.requested_scopes(current, change)
        issuer = discovery = None
        if change.issuer is not None:
            allow_http = self.fetcher.policy.allows(change.issuer.strip())
            issuer = oidc.check_issuer(change.issuer, allow_http=allow_http)
            document = await self.fetcher.fetch(
                oidc.discovery_url(issuer), field="oidc.issuer", max_bytes=oidc.MAX_DISCOVERY_BYTES,
                accept="application/json", what="The issuer's discovery document",
            )
            discovery = oidc.parse_discovery(document, issuer=issuer, scopes=scopes, allow_http=allow_http)
        return editing.apply_oidc(current, change, issuer=issuer, discovery=discovery)

    def _rewrapped(self, connection: Connection) -> Connection:
        """Key rotation on write: a secret sealed under an older key is re-sealed under the active one."""
        if connection.client_secret is None:
            return connection
        try:
            sealed = self.keyring.rewrap(connection.client_secret, connection_id=connection.id, purpose=SECRET_PURPOSE)
        except SecretUnavailable:
            return connection
        return replace(connection, client_secret=sealed)

    def _render(self, connection: Connection, now: datetime) -> dict[str, Any]:
        last4 = None
        if connection.client_secret is not None:
            try:
                last4 = views.secret_hint(
                    self.keyring.open(connection.client_secret, connection_id=connection.id, purpose=SECRET_PURPOSE))
            except SecretUnavailable:
                last4 = None
        return views.render(connection, public_url=self.public_url, now=now, client_secret_last4=last4)

    @staticmethod
    def _event(event_type: type[ConnectionEvent], connection: Connection, actor: Actor, **extra: Any) -> ConnectionEvent:
        return event_type(
            organization_id=connection.organization_id,
            actor=actor,
            connection_id=connection.id,
            connection_type=connection.type,
            provider=connection.provider,
            status=connection.status,
            version=connection.version,
            **extra,
        )

    @staticmethod
    def _wrap(data: Any, now: datetime) -> CloudEvent:
        return CloudEvent.wrap(data, source=SOURCE, time=now)
