"""The client rides out a link-issuer restart: safe calls are retried until it is back, a POST is not repeated."""
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from portico_client import Portico, RetryPolicy, ServiceUnavailableError
from tests.integration.stack import is_ours, run_script

DOWN_FOR_S = 1.5  # link-issuer stays stopped this long before the test starts it again
READY_TIMEOUT_S = 90


def link_issuer_ready(proxy_url: str) -> bool:
    try:
        return httpx.get(f"{proxy_url}/internal/health/link-issuer/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture
def link_issuer_restored(proxy_url: str) -> Iterator[None]:
    """Whatever happens in the test, link-issuer is running and ready afterwards."""
    if not is_ours("link-issuer"):
        pytest.skip("link-issuer was not started by deploy/local, so this test may not restart it")
    yield
    run_script("services.sh", "start", "link-issuer", timeout=60)  # a no-op when it is already running
    assert wait_until(lambda: link_issuer_ready(proxy_url), READY_TIMEOUT_S), "link-issuer did not come back"


def test_calls_that_are_safe_to_repeat_are_retried_across_a_link_issuer_restart(
    proxy_url: str, api_key: str, link_issuer_restored: None
):
    patient = RetryPolicy(max_retries=30, base_delay=0.25, max_delay=1.0)  # rides out ~30 s
    with Portico(proxy_url, api_key, retry=patient) as portico:
        organization = portico.organizations.create("Restart Co")

        stopped = run_script("services.sh", "stop", "link-issuer", timeout=60)
        assert stopped.returncode == 0, stopped.stderr
        assert wait_until(lambda: not link_issuer_ready(proxy_url), 10)

        # Down: a POST is refused at once, since repeating it after an ambiguous failure could duplicate it.
        with pytest.raises(ServiceUnavailableError) as refused:
            portico.organizations.create("Restart Co (duplicate?)")
        assert refused.value.status == 503 and refused.value.code == "service_unavailable"

        restart = threading.Timer(DOWN_FOR_S, run_script, args=("services.sh", "start", "link-issuer"),
                                  kwargs={"timeout": 60})
        restart.start()
        try:
            started = time.monotonic()
            assert portico.organizations.get(organization.id) == organization  # GET: retried until it is back
            waited = time.monotonic() - started
            link = portico.organizations.generate_portal_link(organization.id)  # PUT, now answered at once
        finally:
            restart.join(timeout=70)
    assert waited >= DOWN_FOR_S, "the GET should have been answered only after link-issuer came back"
    assert link.kind == "magic"
