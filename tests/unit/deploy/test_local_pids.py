"""deploy/local's liveness check: a killed service its parent has not reaped yet (a zombie) is not
running, so `services.sh start` restarts it. Found by `make chaos`: after kill -9, under an init that
reaps lazily, the script said "already running" and the service stayed down."""
import os
import signal
import subprocess
import time
from pathlib import Path

COMMON = Path(__file__).resolve().parents[3] / "deploy" / "local" / "common.sh"


def pid_alive(run_dir: Path, name: str) -> bool:
    script = f'source "{COMMON}"; pid_alive {name}'
    env = {**os.environ, "PORTICO_RUN_DIR": str(run_dir)}
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=10).returncode == 0


def test_a_killed_process_not_yet_reaped_is_not_alive(tmp_path: Path):
    child = subprocess.Popen(["sleep", "30"])  # our child: it stays a zombie until we wait() for it
    try:
        (tmp_path / "pids").mkdir()
        (tmp_path / "pids" / "svc.pid").write_text(str(child.pid))
        assert pid_alive(tmp_path, "svc")
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pid_alive(tmp_path, "svc")
    finally:
        child.kill()
        child.wait()
