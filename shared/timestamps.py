"""Timestamps on the wire (APIs, pages, the console, the CLI's JSON): one RFC 3339 form, UTC, six
fractional digits, `Z` — `2026-12-06T16:05:32.123456Z`. Python's `datetime.fromisoformat` reads it back."""
from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


def rfc3339_unix(seconds: float) -> str:
    return rfc3339(datetime.fromtimestamp(seconds, UTC))


def rfc3339_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)
