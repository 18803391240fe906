"""portico_client's retry rules, against an in-memory transport: what is repeated, how long it waits, what it raises."""
import time
from collections.abc import Callable

import httpx
import pytest

from portico_client import (
    USER_AGENT,
    AsyncPortico,
    Portico,
    PorticoConnectionError,
    RateLimitError,
    RetryPolicy,
    ServiceUnavailableError,
    __version__,
)

ORG = {"organization": {"id": "org_1", "display_name": "Acme", "external_id": None,
                        "allowed_frame_ancestors": [], "created_at": "2026-11-26T12:00:00Z"}}
FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.02)


def unavailable() -> httpx.Response:
    return httpx.Response(503, json={"error": {"code": "service_unavailable", "message": "down"}})


def scripted(*answers: httpx.Response | Exception) -> tuple[list[httpx.Request], Callable[[httpx.Request], httpx.Response]]:
    """A handler giving these answers in turn (raising the exceptions), and the requests it saw."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, handle


def client(handler: Callable[[httpx.Request], httpx.Response], retry: RetryPolicy = FAST) -> Portico:
    return Portico("http://portico.test", "key_1.secret", retry=retry, transport=httpx.MockTransport(handler))


def test_every_request_carries_the_key_and_a_versioned_user_agent():
    seen, handler = scripted(httpx.Response(200, json=ORG))
    client(handler).organizations.get("org_1")
    assert seen[0].headers["authorization"] == "Bearer key_1.secret"
    assert seen[0].headers["user-agent"] == USER_AGENT
    assert f"portico-client-python/{__version__}" in USER_AGENT


def test_429_is_retried_after_the_delay_portico_asked_for_even_for_a_post():
    limited = httpx.Response(429, headers={"Retry-After": "0.3"}, json={"error": {"code": "rate_limited", "message": "slow down"}})
    seen, handler = scripted(limited, httpx.Response(201, json=ORG))
    started = time.monotonic()
    assert client(handler).organizations.create("Acme").id == "org_1"
    assert time.monotonic() - started >= 0.3
    assert len(seen) == 2


def test_429_asking_for_longer_than_the_policy_allows_raises_at_once_with_retry_after():
    limited = httpx.Response(429, headers={"Retry-After": "3600"}, json={"error": {"code": "rate_limited", "message": "later"}})
    seen, handler = scripted(limited)
    with pytest.raises(RateLimitError) as raised:
        client(handler).organizations.get("org_1")
    assert raised.value.retry_after == 3600 and raised.value.status == 429 and len(seen) == 1


def test_503_is_retried_for_get_put_and_delete_but_not_for_post():
    seen, handler = scripted(unavailable(), unavailable(), httpx.Response(200, json=ORG))
    assert client(handler).organizations.get("org_1").id == "org_1"
    assert len(seen) == 3

    seen, handler = scripted(unavailable(), httpx.Response(204))
    client(handler).organizations.revoke_link("org_1", "lnk_1")
    assert [r.method for r in seen] == ["DELETE", "DELETE"]

    seen, handler = scripted(unavailable(), httpx.Response(201, json=ORG))
    with pytest.raises(ServiceUnavailableError) as raised:
        client(handler).organizations.create("Acme")
    assert raised.value.code == "service_unavailable" and len(seen) == 1


def test_a_post_is_resent_only_when_the_request_never_left():
    seen, handler = scripted(httpx.ConnectError("refused"), httpx.Response(201, json=ORG))
    assert client(handler).organizations.create("Acme").id == "org_1"
    assert len(seen) == 2

    seen, handler = scripted(httpx.ReadTimeout("no answer"), httpx.Response(201, json=ORG))
    with pytest.raises(PorticoConnectionError) as raised:
        client(handler).organizations.create("Acme")
    assert raised.value.status is None and len(seen) == 1

    seen, handler = scripted(httpx.ReadTimeout("no answer"), httpx.Response(200, json=ORG))
    assert client(handler).organizations.get("org_1").id == "org_1"
    assert len(seen) == 2


def test_retries_stop_after_the_policy_and_raise_the_last_error():
    seen, handler = scripted(*[unavailable() for _ in range(4)])
    with pytest.raises(ServiceUnavailableError):
        client(handler).connections.list("org_1")
    assert len(seen) == 4  # the first try and three retries


def test_backoff_grows_with_jitter_and_stays_under_the_cap():
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, jitter=lambda: 1.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert RetryPolicy(base_delay=1.0, jitter=lambda: 0.0).backoff(2) == 1.0  # half the ceiling at least


def test_ids_are_sent_as_one_path_segment():
    seen, handler = scripted(httpx.Response(200, json={"links": []}))
    client(handler).organizations.list_links("../audit/verify")
    assert seen[0].url.raw_path == b"/api/v1/organizations/..%2Faudit%2Fverify/portal_links"


def test_audit_events_follow_cursors_and_refuse_a_repeated_one():
    def page(sequence: int, cursor: str | None) -> httpx.Response:
        record = {"sequence": sequence, "organization_id": "org_1", "organization_sequence": sequence,
                  "event_id": f"evt_{sequence}", "type": "portico.connection.viewed", "dataversion": 1,
                  "time": "2026-11-26T12:00:00Z", "recorded_at": "2026-11-26T12:00:00Z", "source": "/x",
                  "actor": {"kind": "system"}, "target": None, "data": {"organization_id": "org_1"},
                  "prev_hash": "0" * 64, "hash": "1" * 64}
        return httpx.Response(200, json={"events": [record], "next_cursor": cursor})

    seen, handler = scripted(page(1, "c1"), page(2, "c2"), page(3, None))
    assert [e.sequence for e in client(handler).audit.events(organization_id="org_1", page_size=1)] == [1, 2, 3]
    assert [r.url.params.get("cursor") for r in seen] == [None, "c1", "c2"]

    _, handler = scripted(page(1, "c1"), page(2, "c1"))
    with pytest.raises(RuntimeError, match="twice"):
        list(client(handler).audit.events())


async def test_async_client_retries_the_same_way():
    seen, handler = scripted(httpx.ConnectError("refused"), unavailable(), httpx.Response(200, json=ORG))
    async with AsyncPortico("http://portico.test", "key_1.secret", retry=FAST, transport=httpx.MockTransport(handler)) as portico:
        assert (await portico.organizations.get("org_1")).display_name == "Acme"
    assert len(seen) == 3


def test_an_api_key_is_required():
    with pytest.raises(ValueError, match="API key"):
        Portico("http://portico.test", "")
