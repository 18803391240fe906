"""portal-session's calls to connection-config go as the session: its organization and id vouched for, and the
browser's user agent passed on as it came (an empty or missing one as "", which the audit records as such)."""
import httpx
import pytest
from fastapi import Request

from portal_session.store import LiveSession
from portal_session.upstream import ConnectionConfigClient
from shared.errors import Unavailable

SESSION = LiveSession("ses_1", "org_acme", "lnk_1", "magic", "csrf", 0.0)


def browser_request(headers: list[tuple[bytes, bytes]], method: str = "GET", body: bytes = b"") -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": method, "path": "/portal/api/connections", "query_string": b"limit=5",
             "headers": headers, "client": ("203.0.113.9", 50000)}
    return Request(scope, receive)


def client_seeing(sent: list[httpx.Request]) -> ConnectionConfigClient:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"connections": []})

    client = ConnectionConfigClient("http://connection-config", "internal-token")
    client._client = httpx.AsyncClient(base_url="http://connection-config", transport=httpx.MockTransport(answer))
    return client


@pytest.mark.parametrize(("browser_headers", "passed_on"), [
    ([(b"user-agent", b"Mozilla/5.0 Navigateur-\xe9")], b"Mozilla/5.0 Navigateur-\xe9"),
    ([(b"user-agent", b"")], b""),
    ([], b""),
])
async def test_a_read_goes_as_the_session_with_the_user_agent_as_the_browser_sent_it(browser_headers, passed_on):
    sent: list[httpx.Request] = []
    answer = await client_seeing(sent).read(SESSION, browser_request(browser_headers), "/conn_1")
    assert answer.json() == {"connections": []}
    (request,) = sent
    assert request.url.path == "/internal/portal/connections/conn_1"
    assert request.headers.raw.count((b"X-Portico-User-Agent", passed_on)) == 1
    assert (request.headers["x-portico-actor"], request.headers["x-portico-organization"]) == ("portal_session:ses_1", "org_acme")
    assert (request.headers["x-portico-client-address"], request.headers["x-portico-internal-token"]) == (
        "203.0.113.9", "internal-token")


async def test_a_forward_passes_method_query_body_and_if_match_on():
    sent: list[httpx.Request] = []
    headers = [(b"content-type", b"application/json"), (b"if-match", b'"3"'), (b"cookie", b"portico_session=secret")]
    await client_seeing(sent).forward(SESSION, browser_request(headers, "PATCH", b'{"a":1}'), "/conn_1")
    (request,) = sent
    assert (request.method, request.url.query, request.content) == ("PATCH", b"limit=5", b'{"a":1}')
    assert (request.headers["content-type"], request.headers["if-match"]) == ("application/json", '"3"')
    assert "cookie" not in request.headers and request.headers["x-portico-user-agent"] == ""


async def test_a_forward_connection_config_does_not_answer_is_a_503():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = ConnectionConfigClient("http://connection-config", "internal-token")
    client._client = httpx.AsyncClient(base_url="http://connection-config", transport=httpx.MockTransport(refuse))
    with pytest.raises(Unavailable):
        await client.forward(SESSION, browser_request([]), "")
