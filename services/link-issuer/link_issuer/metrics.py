"""link-issuer's own metrics, in the process's registry (shared/metrics.py)."""
from prometheus_client import Counter

from shared.metrics import REGISTRY

LINKS_ISSUED = Counter(
    "portico_links_issued_total", "Portal links issued, by kind (magic, shareable).", ["kind"], registry=REGISTRY,
)
