"""audit's own metrics, in the process's registry (shared/metrics.py)."""
import time

from prometheus_client import Counter, Gauge

from shared.metrics import REGISTRY, start_at_zero

RECORDS_WRITTEN = Counter(
    "portico_audit_records_written_total", "Audit records appended to the log (redelivered events skipped).",
    registry=REGISTRY,
)
VERIFICATIONS = Counter(
    "portico_audit_verifications_total",
    "Verifications of the hash chain (and the signed checkpoints, when a signing key is set), by trigger (api: "
    "GET /api/v1/audit/verify; scheduled: every PORTICO_AUDIT_VERIFY_INTERVAL_S) and result (ok, broken).",
    ["trigger", "result"], registry=REGISTRY,
)
CHAIN_BROKEN = Gauge(
    "portico_audit_chain_broken",
    "1 once a verification on this instance found the log broken (a record changed, removed or reordered, or a "
    "checkpoint that does not hold), until a verification of the whole log passes; 0 otherwise.",
    registry=REGISTRY,
)
LAST_VERIFICATION = Gauge(
    "portico_audit_last_verification_timestamp_seconds",
    "When this instance's latest verification of the whole log finished (0 before the first).",
    registry=REGISTRY,
)
start_at_zero(VERIFICATIONS, ("api", "scheduled"), ("ok", "broken"))


def record_verification(trigger: str, ok: bool, whole_log: bool) -> None:
    """Counted; a break found in any chain sets portico_audit_chain_broken, and only a pass of the whole log
    clears it (one organization's chain holding says nothing of the others)."""
    VERIFICATIONS.labels(trigger, "ok" if ok else "broken").inc()
    if not ok:
        CHAIN_BROKEN.set(1)
    elif whole_log:
        CHAIN_BROKEN.set(0)
    if whole_log:
        LAST_VERIFICATION.set(time.time())
