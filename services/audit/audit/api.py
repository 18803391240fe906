"""HTTP routes of the audit read side: query with a cursor, streamed export, verify.

Callers come through the proxy with an API key, or from the operator console; both are vouched
for by the internal token (shared.internal_auth). Portal sessions never read the audit log.
"""
import csv
import io
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from audit import store
from audit.domain import AuditRecord, format_time
from audit.long_reads import OneAtATime, until_disconnected
from audit.query import AuditQuery, InvalidCursor, decode_cursor, encode_cursor, parse_actor_filter
from audit.verification import verify_and_record
from shared.errors import DomainError, Forbidden, Unavailable
from shared.internal_auth import Caller, require_caller
from shared.numbers import page_limit

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
EXPORT_CHUNK_RECORDS = 500
ACQUIRE_TIMEOUT_S = 10.0
CSV_COLUMNS = (
    "sequence", "organization_id", "organization_sequence", "event_id", "type", "dataversion", "time",
    "recorded_at", "source", "actor_kind", "actor_id", "client_address", "user_agent", "target", "data",
    "prev_hash", "hash",
)
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
EXPORT_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


async def audit_reader(caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    if caller.actor_kind not in ("api_key", "operator"):
        raise Forbidden("forbidden", "Only API keys and operators may read the audit log.")
    return caller


def _optional(value: str | None) -> str | None:
    return value if value else None


def _time(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError("invalid_field", f"{field}: expected an RFC 3339 time such as 2026-01-31T12:00:00Z",
                          field, status=400) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _query(
    organization_id: str | None, event_type: str | None, since: str | None, until: str | None, actor: str | None = None
) -> AuditQuery:
    for field, value in (("organization_id", organization_id), ("type", event_type), ("actor", actor)):
        if value and "\x00" in value:  # Postgres would refuse it mid-export, after the 200 was sent
            raise DomainError("invalid_characters", f"{field}: must not contain NUL (\\u0000) characters.", field,
                              status=400)
    actor_kind, actor_id = parse_actor_filter(actor)
    query = AuditQuery(_optional(organization_id), _optional(event_type), _time(since, "since"), _time(until, "until"),
                       actor_kind, actor_id)
    if query.since and query.until and query.until <= query.since:
        raise DomainError("invalid_field", "until: must be later than since", "until", status=400)
    return query


def _cursor(value: str | None) -> int:
    if not value:
        return 0
    try:
        return decode_cursor(value)
    except InvalidCursor:
        raise DomainError("invalid_field", "cursor: not a cursor this API returned", "cursor", status=400) from None


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"); a user
# agent, for one, is whatever the caller sent.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """The value as a spreadsheet shows it, never runs it: a leading ' when it could start a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return f"'{value}"
    return value


def _csv_row(record: AuditRecord) -> list[Any]:
    return [_csv_cell(value) for value in (
        record.sequence, record.organization_id, record.organization_sequence, record.event_id, record.event_type,
        record.data_version, format_time(record.event_time), format_time(record.recorded_at), record.source,
        record.actor_kind, record.actor_id, record.client_address, record.user_agent, record.target, record.data,
        record.prev_hash, record.hash,
    )]


def _csv_lines(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


async def _export(pool: asyncpg.Pool, query: AuditQuery, export_format: str) -> AsyncGenerator[bytes, None]:
    async with store.snapshot(pool, ACQUIRE_TIMEOUT_S) as conn:
        yield _csv_lines([list(CSV_COLUMNS)]).encode() if export_format == "csv" else b""
        chunk: list[AuditRecord] = []
        async for record in store.iter_records(conn, query):
            chunk.append(record)
            if len(chunk) == EXPORT_CHUNK_RECORDS:
                yield _render(chunk, export_format)
                chunk = []
        if chunk:
            yield _render(chunk, export_format)


def _render(records: list[AuditRecord], export_format: str) -> bytes:
    if export_format == "csv":
        return _csv_lines([_csv_row(r) for r in records]).encode()
    return "".join(f"{r.canonical()}\n" for r in records).encode()


async def _started(stream: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    """Run a stream to its first chunk now, so a busy database is a 503 before any byte is sent."""
    try:
        first = await anext(stream)
    except TimeoutError:
        raise Unavailable("busy", "Too many audit reads at once; try again shortly.") from None

    async def rest() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in stream:
                yield chunk
        finally:
            await stream.aclose()

    return rest()


def build_router(reader: Callable[[], asyncpg.Pool], trusted_public_key: str | None) -> APIRouter:
    router = APIRouter(prefix="/api/v1/audit", dependencies=[Depends(audit_reader)])

    @router.get("/events")
    async def list_events(
        organization_id: str | None = None,
        type: str | None = None,  # the contract's parameter name
        since: str | None = None,
        until: str | None = None,
        cursor: str | None = None,
        limit: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        query, after = _query(organization_id, type, since, until, actor), _cursor(cursor)
        page_size = page_limit(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        try:
            async with reader().acquire(timeout=ACQUIRE_TIMEOUT_S) as conn:
                records = await store.list_records(conn, query, after, page_size + 1)
        except TimeoutError:
            raise Unavailable("busy", "Too many audit reads at once; try again shortly.") from None
        page = records[:page_size]
        more = len(records) > page_size
        return {
            "events": [r.document() for r in page],
            "next_cursor": encode_cursor(page[-1].sequence) if more else None,
        }

    @router.get("/export", response_class=StreamingResponse, responses={200: {
        "description": "The matching records, one per line (JSONL) or row (CSV)",
        "content": {media_type.partition(";")[0]: {} for media_type in EXPORT_FORMATS.values()},
    }})
    async def export_events(
        format: str = "jsonl",  # the contract's parameter name
        organization_id: str | None = None,
        type: str | None = None,
        since: str | None = None,
        until: str | None = None,
        actor: str | None = None,
    ) -> StreamingResponse:
        if format not in EXPORT_FORMATS:
            raise DomainError("invalid_field", "format: expected jsonl or csv", "format", status=400)
        query = _query(organization_id, type, since, until, actor)
        name = f"portico-audit-{_UNSAFE_IN_FILE_NAME.sub('_', query.organization_id or 'all')}.{format}"
        return StreamingResponse(
            await _started(_export(reader(), query, format)),
            media_type=EXPORT_FORMATS[format],
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    whole_log = OneAtATime()

    async def verified(organization_id: str | None) -> dict[str, Any]:
        try:
            report = await verify_and_record(reader(), organization_id, trusted_public_key, trigger="api",
                                             acquire_timeout_s=ACQUIRE_TIMEOUT_S)
        except TimeoutError:
            raise Unavailable("busy", "Too many audit reads at once; try again shortly.") from None
        return report.body()

    @router.get("/verify")
    async def verify(request: Request, organization_id: str | None = None) -> dict[str, Any]:
        scope = _optional(organization_id)
        if scope is not None:
            return await verified(scope)
        # The whole log can take minutes: one such check per instance, stopped if its caller leaves.
        if not whole_log.try_claim():
            raise Unavailable("busy", "The whole log is being verified already; try again when that has finished.")
        try:
            finished, body = await until_disconnected(verified(None), request.is_disconnected)
        finally:
            whole_log.release()
        if not finished or body is None:  # nobody is listening any more; this answer goes nowhere
            raise DomainError("client_closed_request", "The caller left before the verification finished.", status=499)
        return body

    return router
