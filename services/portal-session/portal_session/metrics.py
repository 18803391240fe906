"""portal-session's own metrics, in the process's registry (shared/metrics.py)."""
from prometheus_client import Counter

from shared.metrics import REGISTRY, start_at_zero

# What a redemption can come to; anything else would be counted as `other` (labels stay bounded).
REDEMPTION_OUTCOMES = frozenset({"ok", "used", "expired", "revoked", "invalid", "throttled"})

REDEMPTIONS = Counter(
    "portico_redemptions_total",
    "Portal link redemptions, by link kind (magic, shareable, unknown for a token we did not sign) and outcome "
    "(ok, used, expired, revoked, invalid, throttled).",
    ["kind", "outcome"], registry=REGISTRY,
)
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
start_at_zero(SESSIONS_STARTED, ("magic", "shareable"))
start_at_zero(SESSIONS_ENDED, ("completed", "revoked"))


def count_redemption(kind: str, outcome: str) -> None:
    REDEMPTIONS.labels(kind, outcome if outcome in REDEMPTION_OUTCOMES else "other").inc()
