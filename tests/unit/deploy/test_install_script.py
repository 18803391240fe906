"""deploy/local/install.sh, the one install step of `make up`, `make test` and CI, as a user who is not root:
it names every missing package in the one command to run, and stops before anything else."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Enough of a system for the script and common.sh to run, and none of what Portico needs installed.
TOOLS = ("bash", "id", "head", "od", "tr", "mkdir", "touch", "grep", "dirname", "cat", "date", "readlink",
         "sha256sum", "cut", "printf", "env", "basename")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the script as another user")
def test_as_another_user_it_prints_the_apt_command_for_every_missing_package_and_stops():
    # Not pytest's tmp_path: its parent is private to root, and the other user must enter this one.
    with tempfile.TemporaryDirectory(prefix="portico-install-") as folder:
        os.chmod(folder, 0o755)
        check_as_nobody(Path(folder))


def check_as_nobody(tmp_path: Path) -> None:
    project = tmp_path / "portico"
    shutil.copytree(ROOT / "deploy" / "local", project / "deploy" / "local")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o777)
    run_dir.chmod(0o777)
    result = subprocess.run(
        [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "nobody", "--",
         str(bin_dir / "bash"), str(project / "deploy/local/install.sh"), "--tests"],
        env={"PATH": str(bin_dir), "PORTICO_RUN_DIR": str(run_dir), "PORTICO_CACHE_DIR": str(run_dir / "cache"),
             "HOME": str(run_dir)},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    command = next((line for line in result.stderr.splitlines() if line.startswith("run: ")), result.stderr)
    assert command.startswith("run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ")
    named = set(command.split("--no-install-recommends ")[1].split())
    assert {"redis-server", "nginx-light", "maven", "gettext-base", "curl", "libnss3-tools"} <= named
    assert not list((run_dir / "cache").glob("*kafka*"))  # stopped before fetching anything
