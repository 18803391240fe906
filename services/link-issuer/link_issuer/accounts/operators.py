"""Operator console rules: roles and what each may do, the password policy, one-time passwords, lockout. No I/O."""
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.errors import Conflict, DomainError, NotFound
from shared.timestamps import rfc3339, rfc3339_or_none

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256  # argon2 takes any length; this only bounds the work one request can ask for
EMAIL_MAX_LENGTH = 254
ONE_TIME_PASSWORD_BYTES = 15  # 120 bits → 24 characters
_OTP_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: read aloud or typed from a screen
# Stricter than what normalize_email accepts: "P@ssw0rd.123" passes that check, not this one.
_ADDRESS = re.compile(r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]+)")


class Role(StrEnum):
    ADMIN = "admin"
    SUPPORT = "support"
    AUDITOR = "auditor"


class OperatorPermission(StrEnum):
    ORGANIZATIONS_READ = "organizations.read"  # list, search, open
    ORGANIZATIONS_CREATE = "organizations.create"
    CONNECTIONS_READ = "connections.read"
    LINKS_READ = "links.read"
    LINKS_WRITE = "links.write"  # generate, revoke
    AUDIT_READ = "audit.read"  # list, open, verify, export
    API_KEYS_MANAGE = "api_keys.manage"
    OPERATORS_MANAGE = "operators.manage"
    OWN_ACCOUNT = "own_account"  # one's own session and password


_EVERYONE = frozenset({OperatorPermission.OWN_ACCOUNT})
_SUPPORT = frozenset({
    OperatorPermission.ORGANIZATIONS_READ,
    OperatorPermission.ORGANIZATIONS_CREATE,
    OperatorPermission.CONNECTIONS_READ,
    OperatorPermission.LINKS_READ,
    OperatorPermission.LINKS_WRITE,
})
_AUDITOR = frozenset({OperatorPermission.AUDIT_READ})

ROLE_MATRIX: dict[Role, frozenset[OperatorPermission]] = {
    Role.SUPPORT: _EVERYONE | _SUPPORT,
    Role.AUDITOR: _EVERYONE | _AUDITOR,
    Role.ADMIN: frozenset(OperatorPermission),
}


def allowed(role: Role | str, permission: OperatorPermission | str) -> bool:
    """True when `role` may do `permission`; an unknown role or permission may do nothing."""
    try:
        return OperatorPermission(permission) in ROLE_MATRIX[Role(role)]
    except ValueError:
        return False


@dataclass(frozen=True)
class Operator:
    """A console account as the console shows it (never its password hash)."""

    id: str
    email: str
    role: Role
    must_change_password: bool
    disabled: bool
    created_at: datetime
    last_sign_in_at: datetime | None = None
    sessions_revoked_at: datetime | None = None

    def document(self) -> dict[str, object]:
        """The operator as the console API and the CLI's --json show it."""
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role.value,
            "disabled": self.disabled,
            "must_change_password": self.must_change_password,
            "created_at": rfc3339(self.created_at),
            "last_sign_in_at": rfc3339_or_none(self.last_sign_in_at),
        }


class OperatorNotFound(NotFound):
    def __init__(self, reference: str) -> None:
        super().__init__("operator_not_found", f"No operator {reference}.", "operator_id")


class EmailTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("email_taken", "An operator with this email already exists.", "email")


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise DomainError("invalid_role", f"Unknown role {value!r}: choose admin, support or auditor.", "role") from None


def normalize_email(value: str) -> str:
    """Lower-cased and trimmed, so one person has one account whatever the case they type."""
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or "@" in domain or len(email) > EMAIL_MAX_LENGTH:
        raise DomainError("invalid_email", f"{value[:80]!r} is not an email address.", "email")
    if any(ch.isspace() for ch in email):
        raise DomainError("invalid_email", "An email address has no spaces.", "email")
    return email


def looks_like_email(value: str) -> bool:
    """True when `value`, normalised, reads as an ordinary email address (ASCII, a domain with a lettered
    top-level label): what a person meant as their email, not a password typed into the wrong field."""
    email = value.strip().lower()
    return len(email) <= EMAIL_MAX_LENGTH and _ADDRESS.fullmatch(email) is not None


def check_new_password(password: str, email: str, current_password: str | None = None) -> None:
    """Length is what makes a password strong; these refuse only the obviously guessable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise DomainError(
            "weak_password", f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters.", "new_password"
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise DomainError("invalid_password", f"A password has at most {PASSWORD_MAX_LENGTH} characters.", "new_password")
    if password.strip().lower() == email.lower() or len(set(password)) < 4:
        raise DomainError("weak_password", "This password is too easy to guess; choose another.", "new_password")
    if current_password is not None and password == current_password:
        raise DomainError("password_unchanged", "The new password must differ from the current one.", "new_password")


def one_time_password(token_bytes: Callable[[int], bytes]) -> str:
    """A random password an admin hands over once; the operator must replace it at first sign-in."""
    number = int.from_bytes(token_bytes(ONE_TIME_PASSWORD_BYTES), "big")
    chars = []
    for _ in range(24):
        number, digit = divmod(number, len(_OTP_ALPHABET))
        chars.append(_OTP_ALPHABET[digit])
    return "".join(chars)


@dataclass(frozen=True)
class LockoutPolicy:
    """`max_failures` wrong passwords for one account (or `max_address_failures` from one client address)
    within `lockout_seconds` lock it for `lockout_seconds` after the last counted failure; while locked
    even the right password is refused. Each attempt is counted before its password is checked (and the
    count given back when the password is right), so parallel guesses get no more checks than sequential ones."""

    max_failures: int = 20
    max_address_failures: int = 100
    lockout_seconds: int = 15 * 60

    def locked(self, account_failures: int, address_failures: int) -> bool:
        return account_failures >= self.max_failures or address_failures >= self.max_address_failures


def lockout_message(retry_after_s: int) -> str:
    minutes = -(-retry_after_s // 60)
    wait = f"{minutes} minute{'s' if minutes != 1 else ''}" if retry_after_s > 60 else f"{retry_after_s} seconds"
    return f"Too many failed sign-ins. Sign-in is locked; try again in {wait}."
