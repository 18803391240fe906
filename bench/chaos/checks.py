"""The pure verdicts of a chaos run: how an HTTP answer counts, what the audit log must hold for what
the API committed, and which magic links opened twice. No I/O here: the runner feeds it what it read."""
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["ok", "clean", "unclean"]
# An expectation's key: the event type and the id the record is about (see record_key).
Key = tuple[str, str]


def classify(status: int | None, json_error: bool, ok_statuses: Iterable[int]) -> Outcome:
    """One answer: what the operation wanted, a clean refusal (a 4xx or 503 with the JSON error shape),
    or unclean (no answer at all, a timeout, a 500/502/504, an error that is not JSON)."""
    if status is not None and status in set(ok_statuses):
        return "ok"
    if status is not None and (400 <= status < 500 or status == 503) and json_error:
        return "clean"
    return "unclean"


def may_have_committed(status: int | None) -> bool:
    """A 4xx answer changed nothing; a 5xx or a lost answer may hide a change that did commit."""
    return status is None or status >= 500


def operation_outcome(attempts: Iterable[Outcome]) -> Outcome:
    """An operation retried on 503s counts by its last attempt; one unclean attempt makes it unclean
    unless a retry succeeded."""
    seen = list(attempts)
    if not seen:
        raise ValueError("an operation has at least one attempt")
    if seen[-1] == "ok":
        return "ok"
    return "unclean" if "unclean" in seen else "clean"


def record_key(event_type: str, organization_id: str, target: str | None, link_id: str | None) -> Key:
    """What one audit record is about, so it can be matched with the operation that caused it.

    Organization events and views are counted per organization, link events per link, session
    events per the link that opened the session (the driver never learns a magic link's session
    id), connection changes per connection."""
    if event_type in ("portico.organization.created", "portico.connection.viewed"):
        return event_type, organization_id
    if event_type.startswith("portico.portal_session."):
        return event_type, link_id or ""
    return event_type, target or ""


UNKNOWN = "?"  # the key of a record an operation may have caused without the driver learning its id


@dataclass(frozen=True)
class Expectation:
    """Between `low` and `high` audit records of `event_type` about `key` (several operations add up)."""

    event_type: str
    key: str
    low: int
    high: int


def expected_counts(expectations: Iterable[Expectation]) -> dict[Key, tuple[int, int]]:
    totals: dict[Key, tuple[int, int]] = {}
    for e in expectations:
        low, high = totals.get((e.event_type, e.key), (0, 0))
        totals[(e.event_type, e.key)] = (low + e.low, high + e.high)
    return totals


@dataclass
class AuditVerdict:
    lost: list[Key] = field(default_factory=list)  # fewer records than certainly committed
    duplicated: list[Key] = field(default_factory=list)  # more than could have committed, or unexplained
    repeated_event_ids: int = 0

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and not self.repeated_event_ids


def judge_audit(
    expectations: Iterable[Expectation], observed: Mapping[Key, int], event_ids: Iterable[str] = ()
) -> AuditVerdict:
    """Every committed change recorded exactly once: no key below its low count (lost), none above its
    high count, and no record the operations do not explain (duplicated)."""
    expected = expected_counts(expectations)
    verdict = AuditVerdict()
    for key, (low, high) in sorted(expected.items()):
        count = observed.get(key, 0)
        if count < low:
            verdict.lost.append(key)
        elif count > high:
            verdict.duplicated.append(key)
    # A creation answered 5xx or not at all may have committed something whose id the driver never
    # learnt (its answer carried it): that many unexplained records of its type are accounted for.
    allowance = Counter({event_type: high for (event_type, key), (_, high) in expected.items() if key == UNKNOWN})
    for key, count in sorted(observed.items()):
        if not count or key in expected:
            continue
        if allowance[key[0]] >= count:
            allowance[key[0]] -= count
        else:
            verdict.duplicated.append(key)
    verdict.repeated_event_ids = sum(n - 1 for n in Counter(event_ids).values() if n > 1)
    return verdict


def settled(expectations: Iterable[Expectation], observed: Mapping[Key, int]) -> bool:
    """Every certainly committed change has reached the log (the runner polls this, bounded)."""
    return all(observed.get(key, 0) >= low for key, (low, _) in expected_counts(expectations).items())


def double_redemptions(redirects_per_magic_link: Mapping[str, int]) -> list[str]:
    """Magic links that opened a session more than once (a 303 each), across retries and re-opens."""
    return sorted(link for link, redirects in redirects_per_magic_link.items() if redirects > 1)
