"""The local proxy with a certificate: https on its own port with the same routes, TLS 1.2+ only, HSTS on
https answers and never on plain http, X-Forwarded-Proto as the client spoke.

Each test starts a second nginx from deploy/local/nginx.sh (its own run directory and ports, the test's
CA and certificate) in front of the services already running; the stack's own proxy stays untouched.
"""
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.integration.stack import Stack, run_script
from tests.integration.tls_proxy import TlsProxy, tls_proxy, unused_port
from tests.tls import make_test_ca

HSTS = "max-age=31536000"


class HeaderEcho(BaseHTTPRequestHandler):
    """Stands in for the audit service behind the proxy: answers with the headers it was sent."""

    def do_GET(self) -> None:
        body = json.dumps({name.lower(): value for name, value in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def header_echo() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HeaderEcho)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(name="proxy")
def running_proxy(stack: Stack, tmp_path: Path, header_echo: int) -> Iterator[TlsProxy]:
    """The second proxy, with the header echo in audit's place."""
    with tls_proxy(tmp_path, PORTICO_AUDIT_PORT=str(header_echo)) as proxy:
        yield proxy


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def handshake(port: int, ca: Path, version: ssl.TLSVersion) -> str:
    """The protocol negotiated when the client offers only `version`; raises ssl.SSLError when refused."""
    context = trusting(ca)
    context.minimum_version = context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer what the server must refuse
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return str(tls.version())


def test_management_api_answers_over_https_with_hsts_and_plain_http_without(proxy: TlsProxy):
    with httpx.Client(verify=trusting(proxy.certificates.ca), timeout=10) as client:
        for origin in (proxy.https_url, f"https://localhost:{proxy.https_port}"):
            answer = client.get(f"{origin}/api/v1/organizations/org_tls")
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"]["code"] == "unauthorized"
            assert answer.headers["strict-transport-security"] == HSTS
        portal = client.get(f"{proxy.https_url}/portal/l/v1.unknown.token", headers={"Accept": "application/json"})
        assert portal.status_code == 410 and portal.headers["strict-transport-security"] == HSTS
        plain = client.get(f"{proxy.http_url}/api/v1/organizations/org_tls")
        assert plain.status_code == 401
        assert "strict-transport-security" not in plain.headers


def test_tls_below_1_2_is_refused_and_1_2_and_1_3_are_served(proxy: TlsProxy):
    port = proxy.https_port
    with pytest.raises(ssl.SSLError):
        handshake(port, proxy.certificates.ca, ssl.TLSVersion.TLSv1_1)
    assert handshake(port, proxy.certificates.ca, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert handshake(port, proxy.certificates.ca, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def test_services_are_told_the_scheme_the_client_used(proxy: TlsProxy):
    with httpx.Client(verify=trusting(proxy.certificates.ca), timeout=10) as client:
        over_https = client.get(f"{proxy.https_url}/internal/health/audit/healthz").json()
        over_http = client.get(f"{proxy.http_url}/internal/health/audit/healthz").json()
    assert over_https["x-forwarded-proto"] == "https"
    assert over_http["x-forwarded-proto"] == "http"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"PORTICO_TLS_CERT_FILE": "cert"}, "PORTICO_TLS_KEY_FILE is not"),
        ({"PORTICO_TLS_KEY_FILE": "key"}, "PORTICO_TLS_CERT_FILE is not"),
        ({"PORTICO_TLS_CERT_FILE": "cert", "PORTICO_TLS_KEY_FILE": "missing.pem"}, "missing.pem is not a readable file"),
    ],
    ids=["certificate-only", "key-only", "unreadable-key"],
)
def test_half_given_or_unreadable_certificate_is_a_one_line_error(tmp_path: Path, given: dict[str, str], message: str):
    certificates = make_test_ca(tmp_path / "certs", ["127.0.0.1"])
    files = {"cert": str(certificates.certificate), "key": str(certificates.key), "missing.pem": str(tmp_path / "missing.pem")}
    env = {name: files[value] for name, value in given.items()}
    env |= {"PORTICO_RUN_DIR": str(tmp_path / "run"), "PORTICO_PROXY_PORT": str(unused_port()),
            "PORTICO_PROXY_TLS_PORT": str(unused_port())}
    for name in ("PORTICO_TLS_CERT_FILE", "PORTICO_TLS_KEY_FILE"):
        env.setdefault(name, "")
    for command in ("check", "start"):  # `make up` checks before it starts anything
        result = run_script("nginx.sh", command, env=env, timeout=60)
        assert result.returncode != 0
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "run" / "pids" / "nginx.pid").exists()
