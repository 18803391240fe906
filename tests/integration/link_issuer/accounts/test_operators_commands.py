"""`portico operators …` as an admin runs it: the printed one-time password signs in (and must be changed),
disable and reset-password end sessions, bad input is one line with a non-zero exit."""
import json
import os
import subprocess
import sys
import uuid

import httpx

from shared.settings import Settings


def portico(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portico_cli", *args], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )


def new_email() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}@example.com"


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/console/api/session", json={"email": email, "password": password})


async def test_created_operator_signs_in_with_the_last_line_and_must_change_it(settings: Settings):
    email = new_email()
    created = portico("operators", "create", "--email", email.upper(), "--role", "support")
    assert created.returncode == 0, created.stderr
    password = created.stdout.strip().splitlines()[-1]
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as client:
        answer = await sign_in(client, email, password)
        assert answer.status_code == 200, answer.text
        operator = answer.json()["operator"]
        assert (operator["email"], operator["role"], operator["must_change_password"]) == (email, "support", True)
        blocked = await client.get("/console/api/organizations")
        assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "password_change_required"

    listed = portico("--json", "operators", "list")
    assert listed.returncode == 0
    row = next(o for o in json.loads(listed.stdout)["operators"] if o["email"] == email)
    assert row["role"] == "support" and row["disabled"] is False and row["last_sign_in_at"] is not None
    assert password not in listed.stdout


async def test_reset_password_replaces_the_old_one_and_ends_sessions(settings: Settings):
    email = new_email()
    first = portico("--json", "operators", "create", "--email", email, "--role", "auditor")
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as client:
        assert (await sign_in(client, email, created["one_time_password"])).status_code == 200
        reset = portico("operators", "reset-password", created["operator"]["id"])
        assert reset.returncode == 0, reset.stderr
        assert (await client.get("/console/api/session")).status_code == 401
        new_password = reset.stdout.strip().splitlines()[-1]
        assert (await sign_in(client, email, created["one_time_password"])).status_code == 401
        assert (await sign_in(client, email, new_password)).json()["operator"]["must_change_password"] is True


async def test_disabled_operator_is_signed_out_and_cannot_sign_in(settings: Settings):
    email = new_email()
    password = portico("operators", "create", "--email", email, "--role", "admin").stdout.strip().splitlines()[-1]
    async with httpx.AsyncClient(base_url=settings.public_url, timeout=30) as client:
        assert (await sign_in(client, email, password)).status_code == 200
        disabled = portico("--json", "operators", "disable", email)
        assert disabled.returncode == 0 and json.loads(disabled.stdout)["disabled"] is True
        assert (await client.get("/console/api/session")).status_code == 401
        refused = await sign_in(client, email, password)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_credentials"


def test_bad_input_is_one_line_with_a_non_zero_exit():
    email = new_email()
    assert portico("operators", "create", "--email", email, "--role", "support").returncode == 0
    cases = {
        ("operators", "create", "--email", email, "--role", "support"):
            (1, "portico: An operator with this email already exists."),
        ("operators", "create", "--email", new_email(), "--role", "root"):
            (2, "portico: Unknown role 'root': choose admin, support or auditor."),
        ("operators", "create", "--email", "not-an-email", "--role", "admin"):
            (2, "portico: 'not-an-email' is not an email address."),
        ("operators", "disable", "opr_doesnotexist"): (3, "portico: No operator opr_doesnotexist."),
        ("operators", "reset-password", "nobody@example.com"): (3, "portico: No operator nobody@example.com."),
    }
    for args, (code, message) in cases.items():
        result = portico(*args)
        assert (result.returncode, result.stderr.strip()) == (code, message), args
        assert result.stdout == ""
    missing = portico("operators", "create", "--email", new_email())
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
