"""`portico api-keys …` as an operator runs it: the printed key works, revoked keys stop, errors are one line."""
import json
import os
import subprocess
import sys

import httpx

from shared.settings import Settings


def portico(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portico_cli", *args], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )


async def test_created_key_is_the_last_line_and_works_until_revoked(settings: Settings):
    created = portico("api-keys", "create", "--name", "cli test")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    key_id = key.split(".")[0]
    async with httpx.AsyncClient(base_url=settings.public_url, headers={"Authorization": f"Bearer {key}"}) as client:
        assert (await client.post("/api/v1/organizations", json={"display_name": "CLI Co"})).status_code == 201

        listed = portico("--json", "api-keys", "list")
        assert listed.returncode == 0
        row = next(k for k in json.loads(listed.stdout)["api_keys"] if k["id"] == key_id)
        assert row["name"] == "cli test" and row["revoked_at"] is None
        assert key.split(".")[1] not in listed.stdout

        assert portico("api-keys", "revoke", key_id).returncode == 0
        assert (await client.post("/api/v1/organizations", json={"display_name": "CLI Co"})).status_code == 401


def test_cli_errors_are_one_line_with_a_non_zero_exit():
    unknown = portico("api-keys", "revoke", "key_doesnotexist")
    assert unknown.returncode == 3
    assert unknown.stderr.strip() == "portico: no API key key_doesnotexist"
    missing_name = portico("api-keys", "create")
    assert missing_name.returncode == 2
    assert "Traceback" not in missing_name.stderr
