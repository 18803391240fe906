"""portal-session's own metrics, in the process's registry (shared/metrics.py)."""
from prometheus_client import Counter

from shared.metrics import REGISTRY

# What a redemption can come to; anything else would be counted as `other` (labels stay bounded).
REDEMPTION_OUTCOMES = frozenset({"ok", "used", "expired", "revoked", "invalid", "throttled"})

REDEMPTIONS = Counter(
    "portico_redemptions_total",
    "Portal link redemptions, by link kind (magic, shareable, unknown for a token we did not sign) and outcome "
    "(ok, used, expired, revoked, invalid, throttled).",
    ["kind", "outcome"], registry=REGISTRY,
)


def count_redemption(kind: str, outcome: str) -> None:
    REDEMPTIONS.labels(kind, outcome if outcome in REDEMPTION_OUTCOMES else "other").inc()

SESSIONS_STARTED = Counter(
    "portico_sessions_started_total", "Portal sessions opened by a redemption, by link kind.", ["kind"],
    registry=REGISTRY,
)
SESSIONS_ENDED = Counter(
    "portico_sessions_ended_total",
    "Portal sessions ended by Portico, by reason: completed (a magic link's setup is done) or revoked (its link "
    "was revoked). A session that simply times out is not counted here.",
    ["reason"], registry=REGISTRY,
)

# Every series of a bounded label set exists from the start, at 0: a rate over it is defined before the first event.
for _kind in ("magic", "shareable"):
    SESSIONS_STARTED.labels(_kind)
for _reason in ("completed", "revoked"):
    SESSIONS_ENDED.labels(_reason)
