"""`client.organizations`, `client.connections`, `client.audit` and `client.sso`, sync and async alike."""
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import BinaryIO, Literal

from portico_client import _calls as calls
from portico_client._calls import ExportFormat, Moment
from portico_client._transport import AsyncTransport, SyncTransport
from portico_client.models import (
    AuditEvent,
    AuditEventPage,
    Connection,
    ExportResult,
    LinkSummary,
    Organization,
    PortalLink,
    Profile,
    SignInAttempt,
    SignInPage,
    VerifyReport,
)

Destination = str | os.PathLike[str] | BinaryIO
SignInKind = Literal["sign_in", "test"]
SignInStatus = Literal["pending", "succeeded", "failed"]
MAX_PAGES = 1_000_000  # a bound on following cursors, far above any real log at 1,000 records a page


class _ExportFile:
    """Where an export goes: a path (written beside it, renamed when complete) or an open binary file."""

    def __init__(self, destination: Destination, export_format: ExportFormat) -> None:
        self.format = export_format
        self.path = None if hasattr(destination, "write") else Path(destination)  # type: ignore[arg-type]
        self._partial = None if self.path is None else self.path.with_name(self.path.name + ".partial")
        self._out: BinaryIO = destination if self._partial is None else self._partial.open("wb")  # type: ignore[assignment]
        self.size = self.lines = 0

    def write(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self.size += len(chunk)
        self.lines += chunk.count(b"\n")

    def finish(self) -> ExportResult:
        if self._partial is not None and self.path is not None:
            self._out.close()
            self._partial.replace(self.path)
        records = self.lines if self.format == "jsonl" else max(self.lines - 1, 0)  # csv: less its header
        return ExportResult(path=self.path, format=self.format, records=records, bytes=self.size)

    def abort(self) -> None:
        """A cut-off download never looks complete: the partial file goes."""
        if self._partial is not None:
            self._out.close()
            self._partial.unlink(missing_ok=True)


class Organizations:
    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport

    def create(
        self, display_name: str, *, external_id: str | None = None, allowed_frame_ancestors: list[str] | None = None
    ) -> Organization:
        """Create an organization (not retried after an ambiguous failure: it could be created twice)."""
        return calls.organization(
            self._transport.send(calls.create_organization(display_name, external_id, allowed_frame_ancestors))
        )

    def get(self, organization_id: str) -> Organization:
        return calls.organization(self._transport.send(calls.get_organization(organization_id)))

    def generate_portal_link(
        self, organization_id: str, *, return_url: str | None = None, success_url: str | None = None
    ) -> PortalLink:
        """A magic link: one use, 5 minutes. Send the admin to `.location`."""
        return calls.portal_link(
            self._transport.send(calls.generate_portal_link(organization_id, return_url, success_url))
        )

    def create_shareable_link(
        self, organization_id: str, *, expires_in_seconds: int | None = None,
        return_url: str | None = None, success_url: str | None = None,
    ) -> PortalLink:
        """A reusable link, 7 days unless `expires_in_seconds` (at most 604800) says otherwise."""
        return calls.portal_link(self._transport.send(
            calls.create_shareable_link(organization_id, expires_in_seconds, return_url, success_url)
        ))

    def list_links(self, organization_id: str) -> list[LinkSummary]:
        return calls.links(self._transport.send(calls.list_links(organization_id)))

    def revoke_link(self, organization_id: str, link_id: str) -> None:
        """Revoke a link and end its sessions; revoking a revoked link is fine."""
        self._transport.send(calls.revoke_link(organization_id, link_id))


class Connections:
    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport

    def list(self, organization_id: str) -> list[Connection]:
        return calls.connections(self._transport.send(calls.list_connections(organization_id)))


class Audit:
    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport

    def list_events(
        self, *, organization_id: str | None = None, type: str | None = None, since: Moment = None,
        until: Moment = None, cursor: str | None = None, limit: int | None = None,
    ) -> AuditEventPage:
        """One page of records, oldest first; pass `next_cursor` back for the next."""
        filters = calls.audit_filters(organization_id, type, since, until)
        return calls.audit_page(self._transport.send(calls.list_audit_events(filters, cursor, limit)))

    def events(
        self, *, organization_id: str | None = None, type: str | None = None, since: Moment = None,
        until: Moment = None, page_size: int | None = None, cursor: str | None = None,
    ) -> Iterator[AuditEvent]:
        """Every matching record, oldest first, fetching pages as the iteration needs them; from the start,
        or after the page that returned `cursor`."""
        filters = calls.audit_filters(organization_id, type, since, until)
        for _ in range(MAX_PAGES):
            page = calls.audit_page(self._transport.send(calls.list_audit_events(filters, cursor, page_size)))
            yield from page.events
            cursor = calls.next_cursor(page, cursor)
            if cursor is None:
                return

    def export(
        self, destination: Destination, *, format: ExportFormat = "jsonl",
        organization_id: str | None = None, type: str | None = None, since: Moment = None, until: Moment = None,
    ) -> ExportResult:
        """Stream the log as JSONL or CSV to a path (complete or absent, never half-written) or a binary file."""
        call = calls.export_audit(calls.audit_filters(organization_id, type, since, until), format)
        with self._transport.stream(call) as response:
            target = _ExportFile(destination, format)
            try:
                for chunk in response.iter_bytes():
                    target.write(chunk)
            except BaseException:
                target.abort()
                raise
        return target.finish()

    def verify(self, *, organization_id: str | None = None) -> VerifyReport:
        """Recompute the hash chain (one organization's, or all); `.ok` is False if anything was altered."""
        return calls.verify_report(self._transport.send(calls.verify_audit(organization_id)))


class AsyncOrganizations:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def create(
        self, display_name: str, *, external_id: str | None = None, allowed_frame_ancestors: list[str] | None = None
    ) -> Organization:
        return calls.organization(
            await self._transport.send(calls.create_organization(display_name, external_id, allowed_frame_ancestors))
        )

    async def get(self, organization_id: str) -> Organization:
        return calls.organization(await self._transport.send(calls.get_organization(organization_id)))

    async def generate_portal_link(
        self, organization_id: str, *, return_url: str | None = None, success_url: str | None = None
    ) -> PortalLink:
        return calls.portal_link(
            await self._transport.send(calls.generate_portal_link(organization_id, return_url, success_url))
        )

    async def create_shareable_link(
        self, organization_id: str, *, expires_in_seconds: int | None = None,
        return_url: str | None = None, success_url: str | None = None,
    ) -> PortalLink:
        return calls.portal_link(await self._transport.send(
            calls.create_shareable_link(organization_id, expires_in_seconds, return_url, success_url)
        ))

    async def list_links(self, organization_id: str) -> list[LinkSummary]:
        return calls.links(await self._transport.send(calls.list_links(organization_id)))

    async def revoke_link(self, organization_id: str, link_id: str) -> None:
        await self._transport.send(calls.revoke_link(organization_id, link_id))


class AsyncConnections:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def list(self, organization_id: str) -> list[Connection]:
        return calls.connections(await self._transport.send(calls.list_connections(organization_id)))


class AsyncAudit:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def list_events(
        self, *, organization_id: str | None = None, type: str | None = None, since: Moment = None,
        until: Moment = None, cursor: str | None = None, limit: int | None = None,
    ) -> AuditEventPage:
        filters = calls.audit_filters(organization_id, type, since, until)
        return calls.audit_page(await self._transport.send(calls.list_audit_events(filters, cursor, limit)))

    async def events(
        self, *, organization_id: str | None = None, type: str | None = None, since: Moment = None,
        until: Moment = None, page_size: int | None = None, cursor: str | None = None,
    ) -> AsyncIterator[AuditEvent]:
        filters = calls.audit_filters(organization_id, type, since, until)
        for _ in range(MAX_PAGES):
            page = calls.audit_page(await self._transport.send(calls.list_audit_events(filters, cursor, page_size)))
            for event in page.events:
                yield event
            cursor = calls.next_cursor(page, cursor)
            if cursor is None:
                return

    async def export(
        self, destination: Destination, *, format: ExportFormat = "jsonl",
        organization_id: str | None = None, type: str | None = None, since: Moment = None, until: Moment = None,
    ) -> ExportResult:
        call = calls.export_audit(calls.audit_filters(organization_id, type, since, until), format)
        async with self._transport.stream(call) as response:
            target = _ExportFile(destination, format)
            try:
                async for chunk in response.aiter_bytes():
                    target.write(chunk)
            except BaseException:
                target.abort()
                raise
        return target.finish()

    async def verify(self, *, organization_id: str | None = None) -> VerifyReport:
        return calls.verify_report(await self._transport.send(calls.verify_audit(organization_id)))


class Sso:
    """Signing users in through an organization's connection, and the record of every attempt."""

    def __init__(self, transport: SyncTransport) -> None:
        self._transport = transport

    def authorization_url(
        self, *, redirect_uri: str, state: str, organization_id: str | None = None, connection_id: str | None = None,
    ) -> str:
        """Where to send the user's browser (no request is made). `redirect_uri` must be registered with Portico
        (PORTICO_SSO_REDIRECT_URIS); `state` comes back unchanged: check it against the user's session."""
        return calls.authorization_url(self._transport.base_url, organization_id, connection_id, redirect_uri, state)

    def exchange(self, code: str) -> Profile:
        """The profile for the `code` your callback received; once, within 10 minutes (else
        InvalidRequestError with code invalid_grant)."""
        return calls.profile(self._transport.send(calls.exchange_code(code)))

    def list_sign_ins(
        self, organization_id: str, *, connection_id: str | None = None, kind: SignInKind | None = None,
        status: SignInStatus | None = None, cursor: str | None = None, limit: int | None = None,
    ) -> SignInPage:
        """One page of attempts, newest first; pass `next_cursor` back for the next."""
        filters = calls.sign_in_filters(connection_id, kind, status)
        return calls.sign_in_page(self._transport.send(calls.list_sign_ins(organization_id, filters, cursor, limit)))

    def sign_ins(
        self, organization_id: str, *, connection_id: str | None = None, kind: SignInKind | None = None,
        status: SignInStatus | None = None, page_size: int | None = None, cursor: str | None = None,
    ) -> Iterator[SignInAttempt]:
        """Every matching attempt, newest first, fetching pages as the iteration needs them."""
        filters = calls.sign_in_filters(connection_id, kind, status)
        for _ in range(MAX_PAGES):
            page = calls.sign_in_page(
                self._transport.send(calls.list_sign_ins(organization_id, filters, cursor, page_size)))
            yield from page.sign_ins
            cursor = calls.next_cursor(page, cursor)
            if cursor is None:
                return


class AsyncSso:
    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    def authorization_url(
        self, *, redirect_uri: str, state: str, organization_id: str | None = None, connection_id: str | None = None,
    ) -> str:
        return calls.authorization_url(self._transport.base_url, organization_id, connection_id, redirect_uri, state)

    async def exchange(self, code: str) -> Profile:
        return calls.profile(await self._transport.send(calls.exchange_code(code)))

    async def list_sign_ins(
        self, organization_id: str, *, connection_id: str | None = None, kind: SignInKind | None = None,
        status: SignInStatus | None = None, cursor: str | None = None, limit: int | None = None,
    ) -> SignInPage:
        filters = calls.sign_in_filters(connection_id, kind, status)
        return calls.sign_in_page(
            await self._transport.send(calls.list_sign_ins(organization_id, filters, cursor, limit)))

    async def sign_ins(
        self, organization_id: str, *, connection_id: str | None = None, kind: SignInKind | None = None,
        status: SignInStatus | None = None, page_size: int | None = None, cursor: str | None = None,
    ) -> AsyncIterator[SignInAttempt]:
        filters = calls.sign_in_filters(connection_id, kind, status)
        for _ in range(MAX_PAGES):
            page = calls.sign_in_page(
                await self._transport.send(calls.list_sign_ins(organization_id, filters, cursor, page_size)))
            for attempt in page.sign_ins:
                yield attempt
            cursor = calls.next_cursor(page, cursor)
            if cursor is None:
                return
