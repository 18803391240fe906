"""Whole numbers from text a caller or a remote server controls: ASCII 0-9 only.

`str.isdigit()` is also true for '²' (then `int()` raises) and for '٣' (then `int()` reads 3), and `int()`
refuses more than 4,300 digits: every number read from a header, a query or a cursor goes through here.
"""
import re

MAX_DIGITS = 19  # the longest a signed 64-bit integer (Postgres bigint) can be
_ASCII_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


def whole_number(text: str) -> int | None:
    """The value of `text` when it is 1 to 19 ASCII digits and nothing else (no sign, space or `_`), else None."""
    return int(text) if _ASCII_DIGITS.fullmatch(text) else None
