"""SSRF-safe HTTP GET for IdP metadata and OIDC discovery: refused addresses, pinned IPs, timeouts, size cap."""
import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from connection_config.model import ConnectionProblem
from connection_config.urls import check_url, host_port
from shared.numbers import whole_number

REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = "Portico/0.1 (SSO configuration check)"


def address_refused(address: str) -> bool:
    """Loopback, private, link-local (cloud metadata), shared, reserved, multicast: anything not global."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and address_refused(str(embedded)):
            return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved


class HostNotFound(ValueError):
    pass


class AddressRefused(ValueError):
    pass


async def vetted_address(host: str, port: int, *, allowed: bool) -> str:
    """The address to connect to for `host`, resolved once here: the connection goes to this address and no
    other (a second lookup could be answered differently: DNS rebinding). Every address the name resolves to
    must be public unless the policy allows the host."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HostNotFound(host) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise HostNotFound(host)
    if not allowed and any(address_refused(address) for address in addresses):
        raise AddressRefused(host)
    return addresses[0]


@dataclass(frozen=True)
class OutboundPolicy:
    """Where fetches may go. `allow_hosts` (host:port) may be loopback/private and plain http: test IdPs."""

    allow_hosts: frozenset[str] = frozenset()
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 5.0
    total_timeout_s: float = 10.0
    max_redirects: int = 3

    @classmethod
    def from_setting(cls, value: str) -> "OutboundPolicy":
        return cls(allow_hosts=frozenset(part.strip().lower() for part in value.split(",") if part.strip()))

    def allows(self, url: str) -> bool:
        return host_port(url) in self.allow_hosts


class Fetcher:
    """GETs one document, resolving the host itself and connecting only to an address it approved."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    async def fetch(self, url: str, *, field: str, max_bytes: int, accept: str, what: str) -> bytes:
        try:
            async with asyncio.timeout(self.policy.total_timeout_s):
                return await self._follow(url, field=field, max_bytes=max_bytes, accept=accept, what=what)
        except TimeoutError:
            raise ConnectionProblem(
                "fetch_timeout", f"{what} did not answer within {self.policy.total_timeout_s:.0f} seconds.", field
            ) from None

    async def _follow(self, url: str, *, field: str, max_bytes: int, accept: str, what: str) -> bytes:
        timeout = httpx.Timeout(self.policy.read_timeout_s, connect=self.policy.connect_timeout_s)
        async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client:
            for _ in range(self.policy.max_redirects + 1):
                allowed = self.policy.allows(url)
                check_url(url, field, allow_http=allowed, what=what)
                if urlsplit(url).scheme == "http" and not allowed:
                    raise ConnectionProblem("https_required", f"{what} must use https://.", field)
                request = await self._pinned_request(client, url, allowed=allowed, field=field, accept=accept, what=what)
                try:
                    response = await client.send(request, stream=True)
                except httpx.TimeoutException:
                    raise ConnectionProblem("fetch_timeout", f"{what} did not answer in time.", field) from None
                except httpx.HTTPError as error:
                    raise ConnectionProblem(
                        "fetch_failed", f"{what} could not be reached ({type(error).__name__}).", field
                    ) from None
                try:
                    if response.status_code in REDIRECTS and response.headers.get("location"):
                        next_url = urljoin(url, response.headers["location"])
                        if urlsplit(url).scheme == "https" and urlsplit(next_url).scheme != "https":
                            raise ConnectionProblem(
                                "redirect_refused", f"{what} redirected from https to a non-https address.", field
                            )
                        url = next_url
                        continue
                    if response.status_code != 200:
                        raise ConnectionProblem(
                            "fetch_http_status", f"{what} answered HTTP {response.status_code} instead of 200.", field
                        )
                    return await self._read_capped(response, max_bytes=max_bytes, field=field, what=what)
                finally:
                    await response.aclose()
        raise ConnectionProblem("too_many_redirects", f"{what} redirected more than {self.policy.max_redirects} times.", field)

    async def _pinned_request(
        self, client: httpx.AsyncClient, url: str, *, allowed: bool, field: str, accept: str, what: str
    ) -> httpx.Request:
        """A request to the vetted IP itself (no second DNS lookup to rebind), with the real Host and SNI."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = await vetted_address(host, port, allowed=allowed)
        except HostNotFound:
            raise ConnectionProblem("host_not_found", f"{what}: the host name {host!r} does not resolve.", field) from None
        except AddressRefused:
            raise ConnectionProblem(
                "address_refused",
                f"{what} points to a private, loopback or link-local address, which Portico never fetches from. "
                "Use the identity provider's public address.",
                field,
            ) from None
        netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        default_port = port == (443 if parts.scheme == "https" else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            return client.build_request(
                "GET", pinned, extensions=extensions,
                headers={"Host": host_header, "Accept": accept, "Accept-Encoding": "identity", "User-Agent": USER_AGENT},
            )
        except (httpx.InvalidURL, ValueError):
            raise ConnectionProblem("url_invalid", f"{what} is not a valid URL.", field) from None

    @staticmethod
    async def _read_capped(response: httpx.Response, *, max_bytes: int, field: str, what: str) -> bytes:
        too_large = ConnectionProblem("response_too_large", f"{what} is larger than {max_bytes // 1024} KiB.", field)
        declared = whole_number(response.headers.get("content-length", ""))
        if declared is not None and declared > max_bytes:
            raise too_large
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > max_bytes:
                raise too_large
        return bytes(body)


class DestinationRefused(httpx.ConnectError):
    """A sign-in's call to an IdP endpoint that the outbound policy refuses; the message says why."""


class PinnedTransport(httpx.AsyncBaseTransport):
    """The transport of a sign-in's calls to the IdP (token endpoint, JWKS): each request goes to an address
    vetted by `vetted_address` at that moment, with the real Host and TLS server name, never to whatever a
    later lookup returns. Plain http and non-public addresses only for hosts the policy allows."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpx.AsyncHTTPTransport(trust_env=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        allowed = self._policy.allows(str(url))
        if url.scheme != "https" and not allowed:
            raise DestinationRefused(f"{url.scheme}://{url.host}: not https", request=request)
        try:
            address = await vetted_address(url.host, url.port or (443 if url.scheme == "https" else 80), allowed=allowed)
        except HostNotFound:
            raise DestinationRefused(f"{url.host}: does not resolve", request=request) from None
        except AddressRefused:
            raise DestinationRefused(f"{url.host}: not a public address", request=request) from None
        request.url = url.copy_with(host=address)
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": url.host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
