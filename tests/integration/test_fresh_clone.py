"""A new user's first step: `make up` in a fresh copy of the project, in a folder only its owner may enter
(a home of mode 700), with a clean run directory, serves the API; `make down` and `make clean` remove
exactly what it made. It runs beside the test stack, on ports of its own."""
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.integration.stack import ROOT

# A second stack: every port shifted so it cannot meet the one the other tests use.
PORTS = {
    "PORTICO_PROXY_PORT": 18080,
    "PORTICO_LINK_ISSUER_PORT": 18101,
    "PORTICO_PORTAL_SESSION_PORT": 18102,
    "PORTICO_CONNECTION_CONFIG_PORT": 18103,
    "PORTICO_AUDIT_PORT": 18104,
    "PORTICO_CONSOLE_PORT": 18105,
    "PORTICO_KAFKA_PORT": 19092,
    "PORTICO_KAFKA_CONTROLLER_PORT": 19093,
    "PORTICO_KAFKA_SCRAM_PORT": 19094,
    "PORTICO_POSTGRES_PORT": 15432,
    "PORTICO_REDIS_PORT": 16379,
}
DEPLOY_VARIABLES = ("PORTICO_CACHE_DIR",)


def fresh_copy(destination: Path) -> None:
    """The project as a clone would have it: every file git knows or would add, with the working tree's
    content (so uncommitted changes are what is tested), nothing it ignores (.run, .venv)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, target = ROOT / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # as git keeps them (the portal's guides, the chart's proxy templates)
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, target)


def environment(clone: Path) -> dict[str, str]:
    """The caller's environment without Portico's settings, plus the shifted ports and what follows from them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_") or k in DEPLOY_VARIABLES}
    env.update({name: str(port) for name, port in PORTS.items()})
    local = f"postgresql://portico@127.0.0.1:{PORTS['PORTICO_POSTGRES_PORT']}"
    env.update({
        "PORTICO_RUN_DIR": str(clone / ".run"),
        "PORTICO_PUBLIC_URL": f"http://127.0.0.1:{PORTS['PORTICO_PROXY_PORT']}",
        "PORTICO_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{PORTS['PORTICO_KAFKA_PORT']}",
        "PORTICO_REDIS_URL": f"redis://127.0.0.1:{PORTS['PORTICO_REDIS_PORT']}/0",
        "PORTICO_LINK_ISSUER_DATABASE_URL": f"{local}/portico_link_issuer",
        "PORTICO_CONNECTION_CONFIG_DATABASE_URL": f"{local}/portico_connection_config",
        "PORTICO_AUDIT_DATABASE_URL": f"{local}/portico_audit",
        "PORTICO_LINK_ISSUER_INTERNAL_URL": f"http://127.0.0.1:{PORTS['PORTICO_LINK_ISSUER_PORT']}",
        "PORTICO_CONNECTION_CONFIG_INTERNAL_URL": f"http://127.0.0.1:{PORTS['PORTICO_CONNECTION_CONFIG_PORT']}",
        "PORTICO_AUDIT_INTERNAL_URL": f"http://127.0.0.1:{PORTS['PORTICO_AUDIT_PORT']}",
        "PORTICO_KAFKA_HEAP": "256m",
    })
    return env


def make(target: str, clone: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-C", str(clone), target], env=env, capture_output=True, text=True, timeout=timeout)


def pids(run_dir: Path) -> list[int]:
    return [int(p.read_text()) for p in (run_dir / "pids").glob("*.pid") if p.read_text().strip().isdigit()]


def test_make_up_in_a_fresh_copy_in_a_private_home_serves_the_api_and_make_clean_leaves_nothing(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    clone = home / "portico"
    clone.mkdir()
    fresh_copy(clone)
    env = environment(clone)
    started = time.monotonic()
    up = make("up", clone, env, timeout=600)
    try:
        assert up.returncode == 0, f"make up failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}"
        seconds = time.monotonic() - started
        answer = httpx.post(f"{env['PORTICO_PUBLIC_URL']}/api/v1/organizations", json={"display_name": "x"}, timeout=10)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
        # nginx's workers (nobody) cannot enter this home: a large body must not need a temp file there.
        large = httpx.post(f"{env['PORTICO_PUBLIC_URL']}/api/v1/organizations", content=b"x" * 1_500_000, timeout=10)
        assert large.status_code == 401 and large.json()["error"]["code"] == "unauthorized"
        console = httpx.get(f"{env['PORTICO_PUBLIC_URL']}/console/api/session", timeout=10)  # the console's own process
        assert console.status_code == 401 and console.json()["error"]["code"] == "not_signed_in"
        print(f"fresh copy: make up answered after {seconds:.1f} s")  # shown with -s
        if os.geteuid() == 0:  # postgres could not have entered the private home: the cluster lives outside it
            assert (clone / ".run" / "postgres").is_symlink()
            assert str((clone / ".run" / "postgres").resolve()).startswith("/var/lib/portico/")
    finally:
        running = pids(clone / ".run")
        down = make("down", clone, env, timeout=180)
        assert down.returncode == 0, down.stderr
        state = (clone / ".run" / "postgres").resolve() if (clone / ".run" / "postgres").is_symlink() else None
        assert make("clean", clone, env, timeout=180).returncode == 0
    for pid in running:  # everything make up started has stopped (a zombie awaiting its reaper counts as stopped)
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", pid
    assert not (clone / ".run").exists()
    if state is not None:
        assert not state.parent.exists()
