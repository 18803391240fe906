"""Whole numbers from text a caller or a remote server controls: ASCII 0-9 only.

`str.isdigit()` is also true for '²' (then `int()` raises) and for '٣' (then `int()` reads 3), and `int()`
refuses more than 4,300 digits: every number read from a header, a query or a cursor goes through here.
"""
import re

from shared.errors import DomainError

MAX_DIGITS = 19  # the longest a signed 64-bit integer (Postgres bigint) can be
_ASCII_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


def whole_number(text: str) -> int | None:
    """The value of `text` when it is 1 to 19 ASCII digits and nothing else (no sign, space or `_`), else None."""
    return int(text) if _ASCII_DIGITS.fullmatch(text) else None


def page_limit(text: str | None, *, default: int, maximum: int, code: str = "invalid_field") -> int:
    """A list's `limit` query parameter: `default` when absent or empty, else a whole number from 1 to `maximum`,
    or a 400 naming the field."""
    if not text:
        return default
    limit = whole_number(text)
    if limit is None or not 1 <= limit <= maximum:
        raise DomainError(code, f"limit: expected a whole number from 1 to {maximum}", "limit", status=400)
    return limit
