"""The read side's filters and page cursors. No I/O."""
import base64
from dataclasses import dataclass
from datetime import datetime

from shared.numbers import whole_number


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the read side; times are event times, `since` inclusive and `until` exclusive."""

    organization_id: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor_kind: str | None = None
    actor_id: str | None = None


ACTOR_KINDS = ("api_key", "operator", "portal_session", "system")


def parse_actor_filter(value: str | None) -> tuple[str | None, str | None]:
    """`operator:opr_…` → kind and id; a bare kind (`operator`) → every actor of it; anything else → that id."""
    if not value:
        return None, None
    kind, colon, actor_id = value.partition(":")
    if colon and kind in ACTOR_KINDS:
        return kind, actor_id or None
    if value in ACTOR_KINDS:
        return value, None
    return None, value


class InvalidCursor(ValueError):
    pass


_CURSOR_PREFIX = "after:"


def encode_cursor(sequence: int) -> str:
    """An opaque page cursor: the last sequence a page returned. The log only grows after it."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{sequence}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor(cursor) from error
    sequence = whole_number(text.removeprefix(_CURSOR_PREFIX)) if text.startswith(_CURSOR_PREFIX) else None
    if sequence is None or sequence >= 2**63:
        raise InvalidCursor(cursor)
    return sequence
