"""`portico organizations|links|connections|events|completion` through the real entry point, in both output modes."""
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import IO

import httpx
import pytest

from portico_client import Portico
from tests.fixtures.identity_providers import make_certificate, pem

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def cli_env(proxy_url: str, api_key: str) -> dict[str, str]:
    return {**os.environ, "PORTICO_URL": proxy_url, "PORTICO_API_KEY": api_key}


def portico(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portico_cli", *args], capture_output=True, text=True, timeout=60,
                          env=env, cwd=ROOT)


def ok(env: dict[str, str], *args: str) -> str:
    done = portico(env, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def one_line_error(done: subprocess.CompletedProcess[str], exit_code: int) -> str:
    assert done.returncode == exit_code, (done.stdout, done.stderr)
    assert done.stdout == "" and "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("portico: ")
    return line


def test_organizations_create_and_get_print_a_table_or_json(cli_env: dict[str, str]):
    external_id = f"cli-{uuid.uuid4().hex}"
    created = json.loads(ok(cli_env, "--json", "organizations", "create", "--display-name", "CLI Co",
                            "--external-id", external_id, "--frame-ancestor", "https://app.example.com"))
    organization = created["organization"]
    assert organization["id"].startswith("org_") and organization["external_id"] == external_id
    assert organization["allowed_frame_ancestors"] == ["https://app.example.com"]

    table = ok(cli_env, "organizations", "get", organization["id"]).splitlines()
    assert table[0].split() == ["ID", "DISPLAY_NAME", "EXTERNAL_ID", "ALLOWED_FRAME_ANCESTORS", "CREATED_AT"]
    assert table[1].split()[:4] == [organization["id"], "CLI", "Co", external_id]
    assert json.loads(ok(cli_env, "--json", "organizations", "get", organization["id"])) == created

    human = ok(cli_env, "organizations", "create", "--display-name", "Plain Co").splitlines()
    assert len(human) == 2 and human[1].startswith("org_")


def test_links_magic_shareable_list_and_revoke(cli_env: dict[str, str], proxy_url: str):
    organization_id = json.loads(ok(cli_env, "--json", "organizations", "create", "--display-name", "Links Co"))[
        "organization"]["id"]

    magic_text = ok(cli_env, "links", "magic", organization_id, "--return-url", f"{proxy_url}/back")
    location = magic_text.splitlines()[-1]
    assert location.startswith(f"{proxy_url}/portal/l/") and "one use" in magic_text
    assert httpx.get(location, timeout=10).status_code == 303

    magic = json.loads(ok(cli_env, "--json", "links", "magic", organization_id))["link"]
    shareable = json.loads(ok(cli_env, "--json", "links", "shareable", organization_id, "--expires-in", "600"))["link"]
    assert (magic["kind"], shareable["kind"]) == ("magic", "shareable")
    assert ok(cli_env, "links", "shareable", organization_id).splitlines()[-1].startswith(f"{proxy_url}/portal/l/")

    listed = json.loads(ok(cli_env, "--json", "links", "list", organization_id))["links"]
    assert {magic["id"], shareable["id"]} <= {link["id"] for link in listed}
    assert all("location" not in link for link in listed)
    table = ok(cli_env, "links", "list", organization_id).splitlines()
    assert table[0].split() == ["ID", "KIND", "STATE", "CREATED_AT", "EXPIRE_TIME"] and len(table) == len(listed) + 1

    assert f"Revoked {shareable['id']}" in ok(cli_env, "links", "revoke", organization_id, shareable["id"])
    assert json.loads(ok(cli_env, "--json", "links", "revoke", organization_id, shareable["id"])) == {
        "organization_id": organization_id, "link_id": shareable["id"], "revoked": True,
    }
    revoked = {link["id"]: link["revoked"] for link in json.loads(ok(cli_env, "--json", "links", "list", organization_id))["links"]}
    assert revoked[shareable["id"]] is True and revoked[magic["id"]] is False


def test_connections_list_prints_status_and_never_a_secret(cli_env: dict[str, str], proxy_url: str, api_key: str):
    with Portico(proxy_url, api_key) as client:
        organization = client.organizations.create("CLI Connections Co")
        location = client.organizations.generate_portal_link(organization.id).location
    secret = "oidc-secret-the-cli-must-not-print"
    with httpx.Client(base_url=proxy_url, timeout=15) as browser:
        assert browser.get(location.removeprefix(proxy_url)).status_code == 303
        csrf = browser.get("/portal/api/session").json()["session"]["csrf_token"]
        for body in (
            {"type": "saml", "provider": "okta", "saml": {"idp_entity_id": "http://www.okta.com/exk-cli",
                                                          "sso_url": "https://acme.okta.com/sso",
                                                          "certificates": [pem(make_certificate())]}},
            {"type": "oidc", "provider": "generic_oidc", "oidc": {"client_id": "cli-app", "client_secret": secret}},
        ):
            assert browser.post("/portal/api/connections", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201

    as_json = ok(cli_env, "--json", "connections", "list", organization.id)
    connections = json.loads(as_json)["connections"]
    assert sorted((c["type"], c["provider"], c["status"]) for c in connections) == [
        ("oidc", "generic_oidc", "draft"), ("saml", "okta", "configured"),
    ]
    table = ok(cli_env, "connections", "list", organization.id).splitlines()
    assert table[0].split() == ["ID", "TYPE", "PROVIDER", "STATUS", "VERSION", "UPDATED_AT", "WARNINGS"]
    assert sorted(row.split()[3] for row in table[1:]) == ["configured", "draft"]
    assert secret not in as_json and secret not in "\n".join(table)


def lines_of(stream: IO[str]) -> "queue.Queue[str | None]":
    """The stream's lines as they come, read on a thread so the test can wait for one with a timeout."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.fixture
def tail_process(cli_env: dict[str, str]) -> Iterator[list[subprocess.Popen[str]]]:
    """`portico events tail` processes the test starts; each is ended at the end of the test if still running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


def start_tail(env: dict[str, str], started: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "portico_cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    started.append(process)
    assert process.stderr is not None
    ready = lines_of(process.stderr).get(timeout=30)
    assert ready is not None and ready.startswith("portico: listening on"), ready
    return process


def test_events_tail_prints_live_events_of_one_organization_and_stops_at_max(
    cli_env: dict[str, str], tail_process: list[subprocess.Popen[str]], proxy_url: str, api_key: str
):
    with Portico(proxy_url, api_key) as client:
        organization = client.organizations.create("Tail Co")
        other = client.organizations.create("Other Co")
        as_json = start_tail(cli_env, tail_process, "--json", "events", "tail", "--organization", organization.id,
                             "--max", "2", "--seconds", "60")
        human = start_tail(cli_env, tail_process, "events", "tail", "--organization", organization.id,
                           "--type", "portico.portal_link.revoked", "--max", "1", "--seconds", "60")
        client.organizations.generate_portal_link(other.id)
        magic = client.organizations.generate_portal_link(organization.id)
        shareable = client.organizations.create_shareable_link(organization.id)
        client.organizations.revoke_link(organization.id, shareable.id)

        out, _ = as_json.communicate(timeout=60)
        events = [json.loads(line) for line in out.splitlines()]
        assert as_json.returncode == 0
        assert [(e["type"], e["subject"], e["data"]["link_id"]) for e in events] == [
            ("portico.portal_link.issued", organization.id, magic.id),
            ("portico.portal_link.issued", organization.id, shareable.id),
        ]
        assert all(e["specversion"] == "1.0" and "token_sha256" in e["data"] for e in events)

        out, _ = human.communicate(timeout=60)
        assert human.returncode == 0
        [line] = out.splitlines()
        assert f"portico.portal_link.revoked  {organization.id}" in line and f"link_id={shareable.id}" in line


def test_events_tail_stops_after_seconds_with_nothing_to_show(cli_env: dict[str, str]):
    started = time.monotonic()
    done = portico(cli_env, "events", "tail", "--organization", "org_nobodyhere", "--seconds", "1.5")
    assert done.returncode == 0 and done.stdout == ""
    assert 1.5 <= time.monotonic() - started < 30


def test_completion_script_completes_commands_actions_and_choices(cli_env: dict[str, str]):
    script = ok(cli_env, "completion", "bash")
    assert "complete -F _portico_complete portico" in script
    probe = r'''
source /dev/stdin
complete_line() {
    read -ra COMP_WORDS <<< "$1"; [[ $1 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _portico_complete; echo "${COMPREPLY[*]}"
}
complete_line "portico li"
complete_line "portico links "
complete_line "portico links shareable org_1 --exp"
complete_line "portico audit export --format "
complete_line "portico --json eve"
complete_line "portico sso "
complete_line "portico sso sign-ins org_1 --kind "
'''
    done = subprocess.run(["bash", "-c", probe], input=script, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["links", "magic shareable list revoke --help", "--expires-in", "jsonl csv", "events",
                                      "authorize-url exchange sign-ins --help", "sign_in test"]
    assert ok(cli_env, "completion", "zsh").startswith("autoload -U +X bashcompinit && bashcompinit\n")


def test_bad_arguments_and_failures_exit_non_zero_with_one_clear_line(cli_env: dict[str, str]):
    assert "No organization org_doesnotexist" in one_line_error(portico(cli_env, "organizations", "get", "org_doesnotexist"), 3)
    assert "display_name" in one_line_error(portico(cli_env, "organizations", "create", "--display-name", " "), 2)
    organization_id = json.loads(ok(cli_env, "--json", "organizations", "create", "--display-name", "Bad Args Co"))[
        "organization"]["id"]
    assert "has no link lnk_doesnotexist" in one_line_error(
        portico(cli_env, "links", "revoke", organization_id, "lnk_doesnotexist"), 3)
    assert "expires_in_seconds" in one_line_error(
        portico(cli_env, "links", "shareable", organization_id, "--expires-in", "604801"), 2)
    assert "PORTICO_API_KEY" in one_line_error(portico({**cli_env, "PORTICO_API_KEY": ""}, "links", "list", organization_id), 2)
    assert "unauthorized" in one_line_error(portico({**cli_env, "PORTICO_API_KEY": "key_x.y"}, "links", "list", organization_id), 1)
    assert "cannot reach Portico" in one_line_error(
        portico({**cli_env, "PORTICO_URL": "http://127.0.0.1:9"}, "links", "list", organization_id), 1)
    assert "unknown event type portico.nope" in one_line_error(portico(cli_env, "events", "tail", "--type", "portico.nope"), 2)

    for args in (
        ("links", "magic"),                                   # the organization is missing
        ("links", "shareable", organization_id, "--expires-in", "soon"),
        ("events", "tail", "--max", "0"),
        ("organizations", "create"),                          # --display-name is required
        ("completion", "fish"),
        ("nonsense",),
    ):
        done = portico(cli_env, *args)
        assert done.returncode == 2, args
        assert "error:" in done.stderr and "Traceback" not in done.stderr, args
