"""Keycloak as a process for the sign-in tests: started and stopped through deploy/local/keycloak.sh,
its bootstrap admin's per-machine password."""
import os

from tests.integration.stack import ROOT, run_script

KEYCLOAK_URL = f"http://127.0.0.1:{os.environ.get('PORTICO_KEYCLOAK_PORT', '8280')}"
# The first start builds Keycloak for dev mode (a minute or two, more on a busy two-core machine); the script
# waits up to PORTICO_KEYCLOAK_START_TIMEOUT for it, this a little longer for the script.
START_TIMEOUT_S = int(os.environ.get("PORTICO_KEYCLOAK_START_TIMEOUT", "300")) + 60
ADMIN_USERNAME = "admin"


class KeycloakUnavailable(RuntimeError):
    """deploy/local/keycloak.sh could not start Keycloak (no Java 21+, no download, a taken port…)."""


def start_keycloak() -> bool:
    """Start Keycloak unless it already answers; True when this call started it (so the caller stops it)."""
    if run_script("keycloak.sh", "status", timeout=30).returncode == 0:
        return False
    started = run_script("keycloak.sh", "start", timeout=START_TIMEOUT_S)
    if started.returncode != 0:
        raise KeycloakUnavailable(f"deploy/local/keycloak.sh start failed:\n{started.stderr.strip()}")
    return True


def stop_keycloak() -> None:
    stopped = run_script("keycloak.sh", "stop", timeout=60)  # by the PID it recorded
    if stopped.returncode != 0:
        raise KeycloakUnavailable(f"deploy/local/keycloak.sh stop failed:\n{stopped.stderr.strip()}")


def admin_password() -> str:
    """The bootstrap admin's password: the environment's, else the per-machine one in .run/secrets.env."""
    if password := os.environ.get("PORTICO_KEYCLOAK_ADMIN_PASSWORD"):
        return password
    for line in (ROOT / ".run" / "secrets.env").read_text().splitlines():
        name, _, value = line.partition("=")
        if name == "PORTICO_KEYCLOAK_ADMIN_PASSWORD":
            return value
    raise KeycloakUnavailable("no PORTICO_KEYCLOAK_ADMIN_PASSWORD in the environment or .run/secrets.env")
