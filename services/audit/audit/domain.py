"""The audit log's rules: what an event becomes, how records chain, and how a chain is verified. No I/O."""
import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any

from portico_events import CloudEvent
from shared.timestamps import rfc3339

GENESIS_HASH = "0" * 64  # prev_hash of an organization's first record
_quote = encode_basestring_ascii  # a JSON string literal, ASCII only: what canonical_json writes for a str

# The record each event type is about, by type prefix: the connection, the link, the session, the operator.
_TARGET_FIELD = {
    "portico.connection.": "connection_id",
    "portico.sso.": "connection_id",
    "portico.portal_link.": "link_id",
    "portico.portal_session.": "session_id",
    "portico.organization.": "organization_id",
    "portico.operator.": "operator_id",
    "portico.api_key.": "api_key_id",
}


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_json(value: Any) -> str:
    """Portico's canonical JSON: keys sorted, no whitespace, ASCII only (\\u escapes), no NaN."""
    return _CANONICAL.encode(value)


def format_time(moment: datetime) -> str:
    """The wire form (exactly six fractional digits), so a time serializes, and hashes, one way only."""
    return rfc3339(moment)


# A whole batch shares one recorded_at: verify and export format it once, not once per record.
_batch_time = lru_cache(maxsize=64)(format_time)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(value: Any) -> str:
    # Postgres text cannot hold NUL; an event may (it is valid JSON), so it is replaced, then hashed.
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _finite(value: Any) -> Any:
    """Non-finite floats (NaN, Infinity) have no JSON form: keep them as their names."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _canonical_data(data: Mapping[str, Any]) -> str:
    try:
        return canonical_json(data)
    except ValueError:
        return canonical_json(_finite(data))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What one event contributes to the log, before it has a place in a chain."""

    event_id: str
    event_type: str
    data_version: int
    event_time: datetime
    organization_id: str
    source: str
    actor_kind: str
    actor_id: str | None
    client_address: str | None
    user_agent: str | None
    target: str | None
    data: str  # canonical JSON


class UnstorableEvent(ValueError):
    """An event no retry could ever store (an id too long to index, a version beyond integer range)."""


MAX_ID_LENGTH = 256  # Portico's ids are ~30 characters; a btree entry cannot exceed ~2.7 kB
_MAX_INT32 = 2**31 - 1


def entry_from_event(event: CloudEvent) -> AuditEntry:
    if len(event.id) > MAX_ID_LENGTH or len(event.subject) > MAX_ID_LENGTH:
        raise UnstorableEvent(f"id or subject longer than {MAX_ID_LENGTH} characters")
    if not 0 <= event.dataversion <= _MAX_INT32:
        raise UnstorableEvent(f"dataversion {event.dataversion} is out of range")
    actor = event.data.get("actor")
    actor = actor if isinstance(actor, dict) else {}
    target_field = next((field for prefix, field in _TARGET_FIELD.items() if event.type.startswith(prefix)), None)
    target = event.data.get(target_field) if target_field else None
    return AuditEntry(
        event_id=_text(event.id),
        event_type=_text(event.type),
        data_version=int(event.dataversion),
        event_time=_utc(event.time),
        organization_id=_text(event.subject),
        source=_text(event.source),
        actor_kind=_text(actor.get("kind") or "system"),
        actor_id=_optional_text(actor.get("id")),
        client_address=_optional_text(actor.get("client_address")),
        user_agent=_optional_text(actor.get("user_agent")),
        target=_optional_text(target),
        data=_canonical_data(event.data),
    )


@dataclass(frozen=True)
class ChainHead:
    """The last record of one organization's chain (or its archive anchor)."""

    sequence: int
    organization_sequence: int
    hash: str


GENESIS = ChainHead(sequence=0, organization_sequence=0, hash=GENESIS_HASH)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of the log: an entry placed in the global order and in its organization's chain."""

    sequence: int
    organization_id: str
    organization_sequence: int
    event_id: str
    event_type: str
    data_version: int
    event_time: datetime
    recorded_at: datetime
    source: str
    actor_kind: str
    actor_id: str | None
    client_address: str | None
    user_agent: str | None
    target: str | None
    data: str
    prev_hash: str
    hash: str

    def document(self) -> dict[str, Any]:
        """The record as the API shows it; the same members as `canonical()`."""
        return {
            "sequence": self.sequence,
            "organization_id": self.organization_id,
            "organization_sequence": self.organization_sequence,
            "event_id": self.event_id,
            "type": self.event_type,
            "dataversion": self.data_version,
            "time": format_time(self.event_time),
            "recorded_at": format_time(self.recorded_at),
            "source": self.source,
            "actor": {
                "kind": self.actor_kind,
                "id": self.actor_id,
                "client_address": self.client_address,
                "user_agent": self.user_agent,
            },
            "target": self.target,
            "data": _parsed(self.data),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def canonical(self, *, with_hash: bool = True) -> str:
        """The record as canonical JSON (one JSONL export line); without `hash` it is what is hashed."""
        return _canonical_record(self, self.sequence, self.organization_sequence, _batch_time(self.recorded_at),
                                 self.prev_hash, self.hash if with_hash else None)

    def computed_hash(self) -> str:
        return _sha256(_canonical_record(self, self.sequence, self.organization_sequence,
                                         _batch_time(self.recorded_at), self.prev_hash, None))


def _parsed(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:  # only if someone rewrote the row; verify names it, reads must still work
        return data


def _json_string(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def _canonical_record(
    entry: "AuditEntry | AuditRecord", sequence: int, organization_sequence: int, recorded_at: str,
    prev_hash: str, record_hash: str | None,
) -> str:
    """canonical_json(record.document()), written out by hand because it runs for every record appended,
    exported and verified (test_audit_domain holds the two equal).

    Keys in sorted order. The stored data text goes in verbatim, so a changed byte anywhere in a
    record changes its hash, even one that leaves the JSON meaning the same.
    """
    return (
        '{"actor":{"client_address":' + _json_string(entry.client_address)
        + ',"id":' + _json_string(entry.actor_id)
        + ',"kind":' + _quote(entry.actor_kind)
        + ',"user_agent":' + _json_string(entry.user_agent)
        + '},"data":' + entry.data
        + ',"dataversion":' + str(entry.data_version)
        + ',"event_id":' + _quote(entry.event_id)
        + ("" if record_hash is None else ',"hash":' + _quote(record_hash))
        + ',"organization_id":' + _quote(entry.organization_id)
        + ',"organization_sequence":' + str(organization_sequence)
        + ',"prev_hash":' + _quote(prev_hash)
        + ',"recorded_at":' + _quote(recorded_at)
        + ',"sequence":' + str(sequence)
        + ',"source":' + _quote(entry.source)
        + ',"target":' + _json_string(entry.target)
        + ',"time":' + _quote(format_time(entry.event_time))
        + ',"type":' + _quote(entry.event_type)
        + "}"
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fresh_entries(entries: Iterable[AuditEntry], already_recorded: set[str]) -> list[AuditEntry]:
    """The entries to append: first occurrence of each event id that the log does not hold yet."""
    seen = set(already_recorded)
    fresh = []
    for entry in entries:
        if entry.event_id not in seen:
            seen.add(entry.event_id)
            fresh.append(entry)
    return fresh


def chain_entries(
    entries: Sequence[AuditEntry], heads: Mapping[str, ChainHead], last_sequence: int, recorded_at: datetime
) -> Iterator[AuditRecord]:
    """Place entries, in order, after the global sequence and each organization's head.

    Lazily, one record at a time, so a COPY can stream rows to Postgres while later ones are hashed.
    """
    heads = dict(heads)
    recorded_at = _utc(recorded_at)
    recorded_text = format_time(recorded_at)
    for sequence, entry in enumerate(entries, start=last_sequence + 1):
        head = heads.get(entry.organization_id, GENESIS)
        organization_sequence = head.organization_sequence + 1
        record_hash = _sha256(_canonical_record(entry, sequence, organization_sequence, recorded_text, head.hash, None))
        yield AuditRecord(
            sequence=sequence,
            organization_id=entry.organization_id,
            organization_sequence=organization_sequence,
            event_id=entry.event_id,
            event_type=entry.event_type,
            data_version=entry.data_version,
            event_time=entry.event_time,
            recorded_at=recorded_at,
            source=entry.source,
            actor_kind=entry.actor_kind,
            actor_id=entry.actor_id,
            client_address=entry.client_address,
            user_agent=entry.user_agent,
            target=entry.target,
            data=entry.data,
            prev_hash=head.hash,
            hash=record_hash,
        )
        heads[entry.organization_id] = ChainHead(sequence, organization_sequence, record_hash)


@dataclass(frozen=True)
class ChainBreak:
    """The first record whose place in the chain does not add up, and why."""

    sequence: int
    event_id: str
    organization_id: str
    organization_sequence: int
    reason: str  # sequence_gap | organization_sequence_gap | prev_hash_mismatch | hash_mismatch
    expected: str
    found: str


class ChainVerifier:
    """Recompute chains record by record, in sequence order, from their anchors (genesis or archive).

    With `first_sequence` set the global order is checked as well: no gaps from that number on.
    """

    def __init__(self, anchors: Mapping[str, ChainHead] | None = None, first_sequence: int | None = None) -> None:
        self._heads = dict(anchors or {})
        self._next_sequence = first_sequence
        self.checked = 0
        self.last: AuditRecord | None = None

    def check(self, record: AuditRecord) -> ChainBreak | None:
        self.checked += 1
        head = self._heads.get(record.organization_id, GENESIS)

        def broken(reason: str, expected: object, found: object) -> ChainBreak:
            return ChainBreak(record.sequence, record.event_id, record.organization_id,
                              record.organization_sequence, reason, str(expected), str(found))

        if self._next_sequence is not None and record.sequence != self._next_sequence:
            return broken("sequence_gap", self._next_sequence, record.sequence)
        if record.organization_sequence != head.organization_sequence + 1:
            return broken("organization_sequence_gap", head.organization_sequence + 1, record.organization_sequence)
        if record.prev_hash != head.hash:
            return broken("prev_hash_mismatch", head.hash, record.prev_hash)
        computed = record.computed_hash()
        if computed != record.hash:
            return broken("hash_mismatch", computed, record.hash)
        self._heads[record.organization_id] = ChainHead(record.sequence, record.organization_sequence, record.hash)
        if self._next_sequence is not None:
            self._next_sequence += 1
        self.last = record
        return None

