"""No secret reaches a log: link tokens, session cookies, API keys, passwords and client secrets are used
through the stack's proxy and a second, https proxy (refusals and hostile input included), then every
log file of the run is searched for each of them."""
import base64
import json
import secrets
import socket
import ssl
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from redis.asyncio import Redis

from shared.settings import Settings
from tests.factories import create_api_key, create_organization, magic_link, shareable_link
from tests.integration.console import create_account, forget_loopback_failures, sign_in
from tests.integration.polling import eventually
from tests.integration.stack import ROOT, Stack
from tests.integration.tls_proxy import tls_proxy

JSON = {"Accept": "application/json"}
RUN_LOGS = ROOT / ".run" / "logs"


def token_of(location: str) -> str:
    return urlsplit(location).path.rsplit("/", 1)[1]


def token_parts(token: str) -> list[str]:
    """The token, its payload and signature, and the 256 random bits inside the payload."""
    _, payload, signature = token.split(".")
    random_part = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["n"]
    return [token, payload, signature, random_part]


def raw_request(port: int, request: bytes) -> bytes:
    """Bytes httpx would refuse to send (a header that is not UTF-8, a malformed header line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return connection.recv(65536)


def log_files(*directories: Path) -> list[Path]:
    return [path for directory in directories for path in sorted(directory.rglob("*")) if path.is_file()]


def hits(secrets_by_name: dict[str, str], files: list[Path]) -> list[str]:
    found = []
    for path in files:
        text = path.read_bytes()
        found += [f"{name} in {path}" for name, secret in secrets_by_name.items() if secret.encode() in text]
    return found


async def test_no_secret_of_links_sessions_keys_passwords_or_client_secrets_reaches_any_log(
    stack: Stack, settings: Settings, proxy_url: str, redis_client: Redis, tmp_path: Path
):
    mark = f"nosecret-{time.time_ns()}"  # request ids that show our requests were logged
    found: dict[str, str] = {}
    _, api_key = await create_api_key(settings, "no secrets in logs")
    found["api key"] = api_key
    api = httpx.AsyncClient(base_url=proxy_url, timeout=15, headers={"Authorization": f"Bearer {api_key}"})
    org_id = await create_organization(api, "No Secrets Co")

    # A magic link redeemed, then refused when opened again; a shareable link redeemed twice.
    magic = (await magic_link(api, org_id))["location"]
    shareable = (await shareable_link(api, org_id))["location"]
    for name, location in (("magic link", magic), ("shareable link", shareable)):
        for part, value in zip(("token", "payload", "signature", "random part"), token_parts(token_of(location)), strict=True):
            found[f"{name} {part}"] = value
    browser = httpx.AsyncClient(base_url=proxy_url, timeout=15)
    redeemed = await browser.get(urlsplit(magic).path + "?portico_probe=1", headers=JSON | {"X-Request-ID": f"{mark}-magic"})
    assert redeemed.status_code == 303, redeemed.text
    found["magic session cookie"] = redeemed.cookies["portico_session"]
    session = (await browser.get("/portal/api/session")).json()["session"]
    found["portal csrf token"] = session["csrf_token"]
    async with httpx.AsyncClient(base_url=proxy_url, timeout=15) as other:
        assert (await other.get(urlsplit(magic).path, headers=JSON)).status_code == 410  # used
        again = await other.get(urlsplit(shareable).path, headers=JSON)
        assert again.status_code == 303
        found["shareable session cookie"] = again.cookies["portico_session"]

    # An unknown (forged) token, and one with a non-ASCII character: refused, never a 500.
    forged = token_of(shareable)[:-8] + "AAAAAAAA"
    found["forged token"] = forged
    assert (await browser.get(f"/portal/l/{forged}", headers=JSON)).status_code == 410
    assert (await browser.get(f"/portal/l/{token_of(shareable)}%C3%A9", headers=JSON)).status_code == 410

    # An OIDC client secret set through the portal.
    client_secret = f"oidc-client-secret-{secrets.token_hex(16)}"
    found["oidc client secret"] = client_secret
    created = await browser.post(
        "/portal/api/connections",
        json={"type": "oidc", "provider": "generic_oidc", "oidc": {"client_id": "no-secrets-app", "client_secret": client_secret}},
        headers={"X-CSRF-Token": session["csrf_token"]},
    )
    assert created.status_code == 201, created.text

    # An operator signs in with the one-time password, then sets their own.
    await forget_loopback_failures(redis_client)
    _, email, one_time = await create_account(settings, "support")
    password = f"operator password {secrets.token_hex(8)}"
    found |= {"operator one-time password": one_time, "operator password": password}
    console = httpx.AsyncClient(base_url=proxy_url, timeout=30)
    signed_in = await sign_in(console, email, one_time)
    assert signed_in.status_code == 200, signed_in.text
    changed = await console.post("/console/api/password", json={"current_password": one_time, "new_password": password},
                                 headers={"X-CSRF-Token": signed_in.json()["csrf_token"]})
    assert changed.status_code == 200, changed.text
    found["console session cookie"] = console.cookies["portico_console"]
    assert (await sign_in(httpx.AsyncClient(base_url=proxy_url, timeout=30), email, "wrong " + password)).status_code == 401

    # Mid-redemption trouble: an X-Request-ID that is not UTF-8 (a 500 before), through the proxy and
    # straight to portal-session, and a malformed header line after a link's request line.
    third = (await shareable_link(api, org_id))["location"]
    for part, value in zip(("token", "payload", "signature", "random part"), token_parts(token_of(third)), strict=True):
        found[f"third link {part}"] = value
    request = f"GET {urlsplit(third).path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n".encode()
    for port in (urlsplit(proxy_url).port or 80, settings.portal_session_port):
        answer = raw_request(port, request + b"X-Request-ID: \xff\xfe\r\nConnection: close\r\n\r\n")
        assert answer.startswith((b"HTTP/1.1 303", b"HTTP/1.1 410")), answer[:200]
        raw_request(port, request + b"Bad header line without a colon\r\n\r\n")

    # The same through a second proxy serving https.
    with tls_proxy(tmp_path) as second:
        https = httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(second.certificates.ca)), timeout=15)
        fourth = (await magic_link(api, org_id))["location"]
        for part, value in zip(("token", "payload", "signature", "random part"), token_parts(token_of(fourth)), strict=True):
            found[f"https link {part}"] = value
        over_https = await https.get(f"{second.https_url}{urlsplit(fourth).path}", headers=JSON | {"X-Request-ID": f"{mark}-https"})
        assert over_https.status_code == 303, over_https.text
        found["https session cookie"] = over_https.cookies["portico_session"]
        assert (await https.get(f"{second.https_url}{urlsplit(fourth).path}", headers=JSON)).status_code == 410
        await https.aclose()
    for client in (api, browser, console):
        await client.aclose()

    # Our requests are in the logs (the proxy's and portal-session's lines), so the search below is not vacuous.
    async def logged_everywhere() -> bool:
        proxy_log = (RUN_LOGS / "nginx-access.log").read_text(errors="replace")
        service_log = (RUN_LOGS / "portal-session.log").read_text(errors="replace")
        second_log = (second.logs / "nginx-access.log").read_text(errors="replace")
        return f"{mark}-magic" in proxy_log and f"{mark}-magic" in service_log and f"{mark}-https" in second_log

    assert await eventually(logged_everywhere, bool, timeout_s=10)
    files = log_files(RUN_LOGS, second.logs)
    assert {"nginx-access.log", "nginx-error.log", "portal-session.log", "link-issuer.log", "console.log"} <= {f.name for f in files}
    assert hits(found, files) == []
