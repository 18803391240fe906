"""Operator console rules without servers: roles, password policy, one-time passwords, lockout, link state."""
from datetime import UTC, datetime, timedelta

import pytest

from link_issuer.accounts.operators import (
    ROLE_MATRIX,
    LockoutPolicy,
    OperatorPermission,
    Role,
    allowed,
    check_new_password,
    lockout_message,
    normalize_email,
    one_time_password,
    parse_role,
)
from link_issuer.domain import PortalLink, link_state
from shared.errors import DomainError

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def test_support_runs_organizations_and_links_but_never_reads_the_audit_log():
    assert allowed(Role.SUPPORT, OperatorPermission.LINKS_WRITE)
    assert allowed("support", "organizations.create")
    assert not allowed(Role.SUPPORT, OperatorPermission.AUDIT_READ)
    assert not allowed(Role.SUPPORT, OperatorPermission.API_KEYS_MANAGE)


def test_auditor_reads_the_audit_log_and_nothing_else():
    assert ROLE_MATRIX[Role.AUDITOR] == {OperatorPermission.AUDIT_READ, OperatorPermission.OWN_ACCOUNT}


def test_admin_may_do_everything_and_every_role_owns_its_account():
    assert all(allowed(Role.ADMIN, permission) for permission in OperatorPermission)
    assert all(allowed(role, OperatorPermission.OWN_ACCOUNT) for role in Role)


def test_unknown_role_or_permission_may_do_nothing():
    assert not allowed("root", OperatorPermission.LINKS_READ)
    assert not allowed(Role.ADMIN, "links.delete_everything")


def test_role_names_are_parsed_or_refused_by_name():
    assert parse_role(" Admin ") is Role.ADMIN
    with pytest.raises(DomainError) as refused:
        parse_role("superuser")
    assert refused.value.field == "role" and "admin, support or auditor" in refused.value.message


@pytest.mark.parametrize("typed", ["Ana@Example.COM", "  ana@example.com "])
def test_email_is_trimmed_and_lower_cased(typed: str):
    assert normalize_email(typed) == "ana@example.com"


@pytest.mark.parametrize("typed", ["", "ana", "@example.com", "ana@", "ana@localhost", "a na@example.com", "a@b@c.com",
                                   "a" * 250 + "@example.com"])
def test_malformed_email_is_refused(typed: str):
    with pytest.raises(DomainError) as refused:
        normalize_email(typed)
    assert refused.value.code == "invalid_email"


@pytest.mark.parametrize(
    ("password", "code"),
    [("short", "weak_password"), ("aaaaaaaaaaaaaaaa", "weak_password"), ("ana@example.com", "weak_password"),
     ("x" * 300, "invalid_password"), ("the current one!", "password_unchanged")],
)
def test_password_policy_refuses_the_guessable(password: str, code: str):
    with pytest.raises(DomainError) as refused:
        check_new_password(password, "ana@example.com", current_password="the current one!")
    assert refused.value.code == code and refused.value.field == "new_password"


def test_a_long_password_passes_the_policy():
    check_new_password("correct horse battery", "ana@example.com", current_password="something else")


def test_one_time_password_is_long_random_and_passes_the_policy():
    first = one_time_password(lambda n: bytes(range(n)))
    assert len(first) == 24 and first == one_time_password(lambda n: bytes(range(n)))
    assert first != one_time_password(lambda n: bytes(range(1, n + 1)))
    check_new_password(one_time_password(lambda n: b"\x5a" * n), "ana@example.com")


def test_lockout_after_max_failures_for_the_account_or_the_address():
    policy = LockoutPolicy(max_failures=20, max_address_failures=100, lockout_seconds=900)
    assert not policy.locked(19, 99)
    assert policy.locked(20, 0)
    assert policy.locked(0, 100)


def test_lockout_message_says_when_to_retry():
    assert lockout_message(900) == "Too many failed sign-ins. Sign-in is locked; try again in 15 minutes."
    assert lockout_message(61).endswith("try again in 2 minutes.")
    assert lockout_message(30).endswith("try again in 30 seconds.")


def link(**changes: object) -> PortalLink:
    fields: dict[str, object] = dict(
        id="lnk_1", organization_id="org_1", kind="magic", expire_time=NOW + timedelta(minutes=5),
        created_at=NOW, revoked=False,
    )
    fields.update(changes)
    return PortalLink(**fields)  # type: ignore[arg-type]


def test_link_state_live_expired_revoked_used():
    assert link_state(link(), NOW) == "live"
    assert link_state(link(), NOW + timedelta(minutes=5)) == "expired"
    assert link_state(link(revoked=True, revoked_at=NOW), NOW) == "revoked"
    assert link_state(link(used_at=NOW + timedelta(seconds=1)), NOW + timedelta(hours=1)) == "used"


def test_magic_link_used_before_revocation_reads_used_and_revoked_first_reads_revoked():
    used_then_revoked = link(used_at=NOW, revoked=True, revoked_at=NOW + timedelta(seconds=5))
    assert link_state(used_then_revoked, NOW + timedelta(seconds=10)) == "used"
    revoked_then_replayed = link(used_at=NOW + timedelta(seconds=5), revoked=True, revoked_at=NOW)
    assert link_state(revoked_then_replayed, NOW + timedelta(seconds=10)) == "revoked"


def test_shareable_link_stays_live_however_often_it_is_opened():
    shareable = link(kind="shareable", expire_time=NOW + timedelta(days=7), used_at=NOW)
    assert link_state(shareable, NOW + timedelta(days=1)) == "live"
