"""Portico as users deploy it, on this machine: the services with the environment the Helm chart renders for
them (secrets filled in), behind the proxy on https with a certificate from a test CA, reached by host names
(`*.localtest`, mapped to 127.0.0.1 by Chromium) so the portal and the SaaS host page are two sites.

The one translation from a cluster to loopback is in `on_loopback`: the chart's in-cluster service names
become 127.0.0.1 and the services bind loopback. Every other value is the chart's, so a setting the chart
forgets, or a secret it does not pass, fails these tests.
"""
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from shared.settings import LOCAL_POSTGRES
from tests.integration.stack import LOCAL, ROOT, SERVICES
from tests.integration.tls_proxy import tls_proxy
from tests.tls import CertificatePaths

RELEASE = "portico"
CHART = ROOT / "deploy" / "helm" / "portico"
HELM = Path(os.environ.get("PORTICO_HELM", Path.home() / ".cache" / "portico" / "bin" / "helm"))
PORTICO_HOST = "portico.localtest"
HOST_PAGE_HOST = "host.localtest"
SECRET = "portico-test"


def chart_values(public_url: str) -> dict[str, object]:
    """The values a platform team would write for this machine's Kafka, Redis and Postgres."""
    return {
        "publicUrl": public_url,
        "secrets": {"existingSecret": SECRET},
        "kafka": {"bootstrapServers": "127.0.0.1:9092", "topics": {"replicationFactor": 1}},
        "redis": {"url": "redis://127.0.0.1:6379/0"},
    }


def secret_values(local_secrets: dict[str, str]) -> dict[tuple[str, str], str]:
    """The Secrets the chart's values name, as `kubectl create secret` would hold them."""
    return {
        (SECRET, "internal-token"): local_secrets["PORTICO_INTERNAL_TOKEN"],
        (SECRET, "link-signing-key"): local_secrets["PORTICO_LINK_SIGNING_KEY"],
        (SECRET, "encryption-keys"): local_secrets["PORTICO_ENCRYPTION_KEYS"],
        ("portico-postgres", "link-issuer-database-url"): f"{LOCAL_POSTGRES}/portico_link_issuer",
        ("portico-postgres", "connection-config-database-url"): f"{LOCAL_POSTGRES}/portico_connection_config",
        ("portico-postgres", "audit-database-url"): f"{LOCAL_POSTGRES}/portico_audit",
        ("portico-postgres", "audit-writer-database-url"):
            "postgresql://portico_audit_writer@127.0.0.1:5432/portico_audit",
    }


def chart_environment(values: dict[str, object], secrets: dict[tuple[str, str], str], workdir: Path) -> dict[str, dict[str, str]]:
    """service → the environment its Deployment gets from `helm template`: the ConfigMaps it mounts with
    envFrom, its literal env, and each secretKeyRef looked up in `secrets` (a key the chart names that the
    test did not provide is a KeyError: the chart and this deployment have drifted)."""
    values_file = workdir / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    rendered = subprocess.run(
        [str(HELM), "template", RELEASE, str(CHART), "-f", str(values_file)],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    manifests = [doc for doc in yaml.safe_load_all(rendered) if doc]
    config_maps = {m["metadata"]["name"]: m.get("data", {}) for m in manifests if m["kind"] == "ConfigMap"}
    environments: dict[str, dict[str, str]] = {}
    for manifest in manifests:
        name = manifest["metadata"]["name"]
        service = name.removeprefix(f"{RELEASE}-")
        if manifest["kind"] != "Deployment" or service not in SERVICES:
            continue
        (container,) = manifest["spec"]["template"]["spec"]["containers"]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            env.update(config_maps[source["configMapRef"]["name"]])
        for entry in container.get("env", []):
            if "value" in entry:
                env[entry["name"]] = str(entry["value"])
            else:
                ref = entry["valueFrom"]["secretKeyRef"]
                env[entry["name"]] = secrets[(ref["name"], ref["key"])]
        environments[service] = env
    assert set(environments) == set(SERVICES), environments.keys()
    return environments


def on_loopback(env: dict[str, str]) -> dict[str, str]:
    """In-cluster service addresses become this machine's loopback ports; the services bind loopback."""
    moved = {name: re.sub(rf"http://{RELEASE}-[a-z-]+:(\d+)", r"http://127.0.0.1:\1", value) for name, value in env.items()}
    moved["PORTICO_HTTP_HOST"] = "127.0.0.1"
    return moved


# Where deploy/local keeps things: the scripts' own variables, not settings of the services.
DEPLOY_VARIABLES = ("PORTICO_RUN_DIR", "PORTICO_VENV", "PORTICO_CACHE_DIR")


def base_environment() -> dict[str, str]:
    """The process environment without any PORTICO_* setting: only the chart's reach the services."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_") or k in DEPLOY_VARIABLES}


def run_local(script: str, *args: str, env: dict[str, str]) -> None:
    result = subprocess.run(["bash", str(LOCAL / script), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{script} {' '.join(args)}: {result.stderr[-2000:]}"


def wait_ready(ports: list[int], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(ports)
    while pending and time.monotonic() < deadline:
        try:
            pending = [p for p in pending if httpx.get(f"http://127.0.0.1:{p}/readyz", timeout=2).status_code != 200]
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    assert not pending, f"not ready: {pending}"


@dataclass(frozen=True)
class Production:
    public_url: str  # https://portico.localtest:<port>
    tls_port: int
    certificates: CertificatePaths
    environments: dict[str, dict[str, str]]
    proxy_logs: Path  # the https proxy's access and error logs


@contextmanager
def production_stack(workdir: Path, local_secrets: dict[str, str]) -> Iterator[Production]:
    """Put an https proxy in front of the running stack and restart its services with the chart's
    environment; afterwards the services run again as `make up` started them, whatever happened."""
    plain = dict(os.environ)
    token = local_secrets["PORTICO_INTERNAL_TOKEN"]
    with tls_proxy(workdir, hostnames=(PORTICO_HOST, HOST_PAGE_HOST), PORTICO_INTERNAL_TOKEN=token) as proxy:
        public_url = f"https://{PORTICO_HOST}:{proxy.https_port}"
        environments = {
            service: on_loopback(env)
            for service, env in chart_environment(chart_values(public_url), secret_values(local_secrets), workdir).items()
        }
        ports = [int(env[f"PORTICO_{service.upper().replace('-', '_')}_PORT"]) for service, env in environments.items()]
        run_local("services.sh", "stop", env=plain)
        try:
            for service, env in environments.items():
                run_local("services.sh", "start", service, env=base_environment() | env)
            wait_ready(ports)
            yield Production(public_url, proxy.https_port, proxy.certificates, environments, proxy.logs)
        finally:
            run_local("services.sh", "stop", env=plain)
            run_local("services.sh", "start", env=plain)
            wait_ready(ports)


class LocaltestTransport(httpx.AsyncHTTPTransport):
    """httpx's side of Chromium's host-resolver rule: *.localtest connects to 127.0.0.1, with the name kept
    for the Host header, SNI and the certificate check."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.endswith(".localtest"):
            request.extensions = {**request.extensions, "sni_hostname": request.url.host}
            request.url = request.url.copy_with(host="127.0.0.1")
        return await super().handle_async_request(request)


def trust_store(home: Path, ca: Path) -> Path:
    """A HOME whose NSS database trusts the test CA, as Chromium on Linux reads it (~/.pki/nssdb)."""
    nssdb = home / ".pki" / "nssdb"
    shutil.rmtree(nssdb, ignore_errors=True)
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "Portico test CA", "-t", "C,,", "-i", str(ca)],
        check=True, capture_output=True,
    )
    return home
