"""Prefixed random ids (org_, lnk_, conn_, ses_, evt_) and the clock the domain is given."""
import re
import secrets
from datetime import UTC, datetime
from typing import Protocol

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase: no i, l, o, u


def new_id(prefix: str, random_bytes: int = 16) -> str:
    """`prefix_` followed by 128 random bits in base32, so a log line says what the id names."""
    number = int.from_bytes(secrets.token_bytes(random_bytes), "big")
    chars = []
    for _ in range((random_bytes * 8 + 4) // 5):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(reversed(chars))}"


def is_id(value: str, prefix: str) -> bool:
    """Whether `value` has the shape of an id `new_id(prefix)` makes (anything else can name nothing)."""
    return re.fullmatch(rf"{prefix}_[0-9a-z]{{26}}", value) is not None


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
