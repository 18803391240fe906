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
