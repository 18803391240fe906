"""portico_client's sign-in calls against an in-memory transport: the authorization URL (no request), the code
exchange into a Profile or invalid_grant, and the attempts list following cursors, sync and async."""
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portico_client import AsyncPortico, InvalidRequestError, Portico, Profile

PROFILE = {"id": "prof_1", "idp_id": "ada@example.com", "email": "ada@example.com", "first_name": "Ada",
           "last_name": "Lovelace", "groups": ["engineering"], "raw_attributes": {"department": ["Engines"]},
           "connection_id": "conn_1", "connection_type": "saml", "organization_id": "org_1"}


def attempt(number: int) -> dict[str, object]:
    return {"id": f"sgn_{number}", "kind": "sign_in", "status": "failed", "connection_id": "conn_1",
            "connection_version": 2, "organization_id": "org_1", "error_code": "assertion_expired",
            "fix_in": "identity_provider", "created_at": "2026-12-06T12:00:00Z",
            "finished_at": "2026-12-06T12:00:01Z", "duration_ms": 1000}


def no_request(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected: {request.url}")


def token(request: httpx.Request) -> httpx.Response:
    assert (request.method, request.url.path) == ("POST", "/api/v1/sso/token")
    assert request.headers["authorization"] == "Bearer key_1.secret"
    if request.content == b'{"code":"good"}':
        return httpx.Response(200, json={"profile": PROFILE})
    return httpx.Response(400, json={"error": {"code": "invalid_grant", "message": "The code is unknown or used."}})


def pages(request: httpx.Request) -> httpx.Response:
    """Attempts 5 down to 1, two a page; the cursor is the last id's number."""
    assert request.url.path == "/api/v1/organizations/org_1/sign_ins"
    assert (request.url.params["kind"], request.url.params["connection_id"]) == ("sign_in", "conn_1")
    before = int(request.url.params.get("cursor", "6"))
    numbers = list(range(before - 1, max(before - 3, 0), -1))
    return httpx.Response(200, json={"sign_ins": [attempt(n) for n in numbers],
                                     "next_cursor": str(numbers[-1]) if numbers[-1] > 1 else None})


def test_authorization_url_is_built_from_the_base_url_without_a_request():
    with Portico("https://sso.example.com/", "key_1.secret", transport=httpx.MockTransport(no_request)) as client:
        url = client.sso.authorization_url(organization_id="org_1", redirect_uri="https://app.example.com/cb?x=1",
                                           state="s t&1")
        by_connection = client.sso.authorization_url(connection_id="conn_1", redirect_uri="https://a/cb", state="s")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "sso.example.com", "/sso/v1/authorize")
    assert parse_qs(parts.query) == {"organization_id": ["org_1"], "redirect_uri": ["https://app.example.com/cb?x=1"],
                                     "state": ["s t&1"]}
    assert parse_qs(urlsplit(by_connection).query)["connection_id"] == ["conn_1"]


@pytest.mark.parametrize("arguments", [
    {"redirect_uri": "https://a/cb", "state": "s"},
    {"organization_id": "org_1", "connection_id": "conn_1", "redirect_uri": "https://a/cb", "state": "s"},
    {"organization_id": "org_1", "redirect_uri": "https://a/cb", "state": ""},
])
def test_authorization_url_needs_one_organization_or_connection_and_a_state(arguments: dict[str, str]):
    with Portico("https://sso.example.com", "key_1.secret", transport=httpx.MockTransport(no_request)) as client:
        with pytest.raises(ValueError):
            client.sso.authorization_url(**arguments)


def test_exchange_gives_the_profile_or_invalid_grant():
    with Portico("http://portico.test", "key_1.secret", transport=httpx.MockTransport(token)) as client:
        profile = client.sso.exchange("good")
        with pytest.raises(InvalidRequestError) as refused:
            client.sso.exchange("used")
    assert isinstance(profile, Profile)
    assert (profile.email, profile.groups, profile.connection_type) == ("ada@example.com", ["engineering"], "saml")
    assert profile.raw_attributes == {"department": ["Engines"]}
    assert (refused.value.status, refused.value.code) == (400, "invalid_grant")


async def test_async_exchange_and_url():
    async with AsyncPortico("http://portico.test", "key_1.secret", transport=httpx.MockTransport(token)) as client:
        assert (await client.sso.exchange("good")).organization_id == "org_1"
        assert client.sso.authorization_url(connection_id="conn_1", redirect_uri="https://a/cb", state="s").startswith(
            "http://portico.test/sso/v1/authorize?connection_id=conn_1&")


def test_sign_ins_follow_cursors_newest_first_and_a_page_keeps_its_cursor():
    with Portico("http://portico.test", "key_1.secret", transport=httpx.MockTransport(pages)) as client:
        attempts = list(client.sso.sign_ins("org_1", connection_id="conn_1", kind="sign_in"))
        page = client.sso.list_sign_ins("org_1", connection_id="conn_1", kind="sign_in", cursor="3")
    assert [a.id for a in attempts] == ["sgn_5", "sgn_4", "sgn_3", "sgn_2", "sgn_1"]
    assert (attempts[0].error_code, attempts[0].fix_in, attempts[0].duration_ms, attempts[0].email) == (
        "assertion_expired", "identity_provider", 1000, None)
    assert ([a.id for a in page.sign_ins], page.next_cursor) == (["sgn_2", "sgn_1"], None)


async def test_async_sign_ins_follow_cursors():
    async with AsyncPortico("http://portico.test", "key_1.secret", transport=httpx.MockTransport(pages)) as client:
        assert [a.id async for a in client.sso.sign_ins("org_1", connection_id="conn_1", kind="sign_in",
                                                        cursor="4")] == ["sgn_3", "sgn_2", "sgn_1"]
