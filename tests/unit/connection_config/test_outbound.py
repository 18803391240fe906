"""SSRF-safe fetches, against loopback servers this test starts: refused unless allow-listed, capped, timed out."""
import socket
import threading

import pytest

from connection_config.model import ConnectionProblem
from connection_config.outbound import Fetcher, OutboundPolicy, address_refused
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
