"""connection-config's own metrics, in the process's registry (shared/metrics.py)."""
import math
from collections.abc import Callable
from datetime import timedelta

import asyncpg
from prometheus_client import Counter, Gauge

from connection_config import store
from connection_config.sso.errors import CATALOGUE
from shared.metrics import REGISTRY, start_at_zero
from shared.periodic import Periodic

CERTIFICATE_WARNING_DAYS = 14
CERTIFICATE_SAMPLE_INTERVAL_S = 60.0

CONNECTION_CHANGES = Counter(
    "portico_connection_changes_total",
    "Changes to SSO connections, by type (saml, oidc) and change (created, updated, enabled, disabled, deleted).",
    ["type", "change"], registry=REGISTRY,
)
SIGN_INS = Counter(
    "portico_sign_ins_total",
    "Finished sign-in attempts, by protocol (saml, oidc), kind (sign_in: an app's user; test: the portal's test) "
    "and outcome: succeeded, or the error code (docs/sso.md), such as signature_invalid or sign_in_expired.",
    ["protocol", "kind", "outcome"], registry=REGISTRY,
)
CERTIFICATE_NEXT_EXPIRY = Gauge(
    "portico_connection_certificate_next_expiry_timestamp_seconds",
    "The soonest expiry among enabled SAML connections, each counted by its latest-expiring signing certificate "
    "(sampled every minute); NaN when there is none.",
    registry=REGISTRY,
)
CERTIFICATES_EXPIRING = Gauge(
    "portico_connections_certificate_expiring",
    f"Enabled SAML connections whose latest signing certificate expires within {CERTIFICATE_WARNING_DAYS} days "
    "(sampled every minute).",
    registry=REGISTRY,
)
start_at_zero(CONNECTION_CHANGES, ("saml", "oidc"), ("created", "updated", "enabled", "disabled", "deleted"))
start_at_zero(SIGN_INS, ("saml", "oidc"), ("sign_in", "test"), ("succeeded",))


def count_change(connection_type: str, change: str) -> None:
    CONNECTION_CHANGES.labels(connection_type, change).inc()


def count_sign_in(protocol: str, kind: str, outcome: str) -> None:
    """`outcome` is succeeded or a code of the catalogue; anything else would be `other` (labels stay bounded)."""
    SIGN_INS.labels(protocol, kind, outcome if outcome == "succeeded" or outcome in CATALOGUE else "other").inc()


def certificate_watch(pool: Callable[[], asyncpg.Pool]) -> Periodic:
    """Reads the enabled SAML connections' certificate expiries into the two gauges every minute."""

    async def sample() -> None:
        next_expiry, expiring = await store.certificate_expiry(pool(), timedelta(days=CERTIFICATE_WARNING_DAYS))
        CERTIFICATE_NEXT_EXPIRY.set(next_expiry.timestamp() if next_expiry is not None else math.nan)
        CERTIFICATES_EXPIRING.set(expiring)

    return Periodic("certificate-expiry-sample", sample, CERTIFICATE_SAMPLE_INTERVAL_S)

