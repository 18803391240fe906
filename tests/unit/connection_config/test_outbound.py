"""SSRF-safe fetches, against loopback servers this test starts: refused unless allow-listed, capped, timed out."""
import asyncio
import socket
import threading

import httpx
import pytest

from connection_config.model import ConnectionProblem
from connection_config.outbound import DestinationRefused, Fetcher, OutboundPolicy, PinnedTransport, address_refused
from connection_config.sso.errors import SignInError
from connection_config.sso.oidc_flow import TokenRequest, exchange_code
from tests.fixtures.identity_providers import Route, loopback_server


async def fetch(fetcher: Fetcher, url: str, max_bytes: int = 1024) -> bytes:
    return await fetcher.fetch(url, field="saml.metadata_url", max_bytes=max_bytes, accept="*/*", what="The URL")


async def refusal(fetcher: Fetcher, url: str, max_bytes: int = 1024) -> ConnectionProblem:
    with pytest.raises(ConnectionProblem) as caught:
        await fetch(fetcher, url, max_bytes)
    assert caught.value.field == "saml.metadata_url"
    return caught.value


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "224.0.0.1",
])
def test_internal_addresses_are_refused(address):
    assert address_refused(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert not address_refused(address)


async def test_loopback_server_is_refused_and_never_contacted():
    with loopback_server({"/metadata": Route(body=b"<x/>")}) as server:
        problem = await refusal(Fetcher(OutboundPolicy()), server.url("/metadata"))
        assert problem.code in ("address_refused", "https_required")
        problem = await refusal(Fetcher(OutboundPolicy()), f"https://localhost:{server.port}/metadata")
        assert problem.code == "address_refused"
        assert server.requests == []


async def test_allow_listed_loopback_server_is_fetched():
    with loopback_server({"/metadata": Route(body=b"<EntityDescriptor/>")}) as server:
        fetcher = Fetcher(OutboundPolicy.from_setting(f"example.org:443, {server.host_port}"))
        assert await fetch(fetcher, server.url("/metadata")) == b"<EntityDescriptor/>"
        assert server.requests == ["/metadata"]


async def test_redirect_to_a_refused_address_is_not_followed():
    with loopback_server() as target, loopback_server() as allowed:
        target.routes["/secret"] = Route(body=b"internal")
        allowed.routes["/metadata"] = Route(status=302, headers={"Location": target.url("/secret")})
        fetcher = Fetcher(OutboundPolicy.from_setting(allowed.host_port))
        problem = await refusal(fetcher, allowed.url("/metadata"))
        assert problem.code in ("https_required", "address_refused")
        assert target.requests == []


async def test_redirect_within_allowed_hosts_is_followed_a_bounded_number_of_times():
    with loopback_server() as server:
        server.routes["/a"] = Route(status=301, headers={"Location": "/b"})
        server.routes["/b"] = Route(body=b"done")
        server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
        fetcher = Fetcher(OutboundPolicy.from_setting(server.host_port))
        assert await fetch(fetcher, server.url("/a")) == b"done"
        assert (await refusal(fetcher, server.url("/loop"))).code == "too_many_redirects"
        assert server.requests.count("/loop") == fetcher.policy.max_redirects + 1


async def test_oversized_response_is_cut_off():
    with loopback_server({"/big": Route(body=b"x" * 5000)}) as server:
        fetcher = Fetcher(OutboundPolicy.from_setting(server.host_port))
        assert (await refusal(fetcher, server.url("/big"), max_bytes=1000)).code == "response_too_large"


async def test_error_status_is_reported():
    with loopback_server() as server:
        fetcher = Fetcher(OutboundPolicy.from_setting(server.host_port))
        problem = await refusal(fetcher, server.url("/missing"))
        assert problem.code == "fetch_http_status"
        assert "404" in problem.message


async def test_silent_server_times_out():
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        policy = OutboundPolicy(allow_hosts=frozenset({f"127.0.0.1:{port}"}), read_timeout_s=0.3, total_timeout_s=1)
        problem = await refusal(Fetcher(policy), f"http://127.0.0.1:{port}/")
        assert problem.code == "fetch_timeout"
    finally:
        stop.set()
        thread.join(timeout=2)
        for connection in accepted:
            connection.close()
        listener.close()


async def test_non_http_schemes_and_credentials_are_refused():
    fetcher = Fetcher(OutboundPolicy())
    assert (await refusal(fetcher, "file:///etc/passwd")).code == "url_invalid"
    assert (await refusal(fetcher, "gopher://example.com/")).code == "url_invalid"
    assert (await refusal(fetcher, "https://user:pw@example.com/")).code == "url_has_credentials"


async def test_unresolvable_host_is_explained():
    problem = await refusal(Fetcher(OutboundPolicy()), "https://does-not-exist.invalid/metadata")
    assert problem.code == "host_not_found"


async def test_a_sign_in_call_goes_to_the_address_looked_up_once_with_the_real_host_name(monkeypatch):
    """The token and JWKS calls: the name is resolved once, vetted, and the connection made to that address
    (a second lookup, which DNS rebinding would answer differently, never happens)."""
    lookups: list[str] = []

    async def resolve(host, port, *args, **kwargs):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    with loopback_server() as idp:
        idp.responders["/jwks"] = lambda request: Route(body=request.headers["host"].encode())
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolve)
        policy = OutboundPolicy.from_setting(f"idp.test:{idp.port}")
        async with httpx.AsyncClient(transport=PinnedTransport(policy)) as client:
            answer = await client.get(f"http://idp.test:{idp.port}/jwks")
    assert (answer.status_code, answer.text) == (200, f"idp.test:{idp.port}")
    assert lookups.count("idp.test") == 1 and idp.requests == ["/jwks"]


async def test_a_sign_in_call_to_a_refused_destination_is_never_made_and_says_why():
    with loopback_server({"/token": Route(body=b"{}")}) as idp:
        async with httpx.AsyncClient(transport=PinnedTransport(OutboundPolicy())) as client:
            with pytest.raises(DestinationRefused, match="not a public address"):
                await client.post(f"https://localhost:{idp.port}/token")
            with pytest.raises(DestinationRefused, match="not https"):
                await client.post(idp.url("/token"))
            with pytest.raises(SignInError) as caught:
                await exchange_code(client, TokenRequest(url=f"https://localhost:{idp.port}/token", form={}, headers={}))
        assert idp.requests == []
    assert caught.value.code == "token_exchange_failed"
    assert caught.value.actual == "DestinationRefused: localhost: not a public address"
