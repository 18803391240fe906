"""What the proxy itself measured: $request_time per request from deploy/local's nginx access log, by X-Request-ID."""
import os
import re
from pathlib import Path

ACCESS_LOG = Path(os.environ.get("PORTICO_RUN_DIR", Path(__file__).parents[1] / ".run")) / "logs" / "nginx-access.log"
_LOGGED = re.compile(r" rt=(?P<rt>[0-9.]+) .* rid=(?P<rid>\S+)$")


def log_offset() -> int:
    """Where the access log ends now: read only what is logged after this."""
    return ACCESS_LOG.stat().st_size if ACCESS_LOG.exists() else 0


def proxy_times(request_ids: set[str], offset: int) -> dict[str, float]:
    """Seconds the proxy spent on each of these requests, from its access log since `offset`."""
    if not ACCESS_LOG.exists():
        return {}
    times = {}
    with ACCESS_LOG.open("rb") as log:
        log.seek(offset)
        for line in log:
            match = _LOGGED.search(line.decode(errors="replace").rstrip())
            if match and match["rid"] in request_ids:
                times[match["rid"]] = float(match["rt"])
    return times
