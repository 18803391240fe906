"""A second local proxy with https, started from deploy/local/nginx.sh in front of the running services:
its own run directory and loopback ports, a certificate from the test's own CA, stopped by its PID."""
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.stack import ROOT, run_script
from tests.tls import CertificatePaths, make_test_ca


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_secrets() -> dict[str, str]:
    """The running stack's secrets: the second proxy must vouch with the same internal token."""
    lines = (ROOT / ".run" / "secrets.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@dataclass
class TlsProxy:
    http_url: str
    https_url: str
    https_port: int
    certificates: CertificatePaths
    logs: Path  # the directory of its access and error logs


@contextmanager
def tls_proxy(directory: Path, hostnames: tuple[str, ...] = ("127.0.0.1", "localhost"), **env: str) -> Iterator[TlsProxy]:
    """Serve http and https on two free loopback ports until the block ends, with a certificate for
    `hostnames`; `env` adds PORTICO_* settings."""
    certificates = make_test_ca(directory / "certs", list(hostnames))
    http_port, https_port = unused_port(), unused_port()
    env = stack_secrets() | {
        "PORTICO_RUN_DIR": str(directory / "run"),
        "PORTICO_REPLICAS": "1",
        "PORTICO_PROXY_PORT": str(http_port),
        "PORTICO_PROXY_TLS_PORT": str(https_port),
        "PORTICO_TLS_CERT_FILE": str(certificates.certificate),
        "PORTICO_TLS_KEY_FILE": str(certificates.key),
    } | env
    started = run_script("nginx.sh", "start", env=env, timeout=60)
    assert started.returncode == 0, started.stderr
    try:
        yield TlsProxy(f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", https_port,
                       certificates, directory / "run" / "logs")
    finally:
        stopped = run_script("nginx.sh", "stop", env=env, timeout=60)  # by the PID it recorded
        assert stopped.returncode == 0, stopped.stderr
