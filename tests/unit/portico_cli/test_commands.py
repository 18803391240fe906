"""The `portico` CLI is a client: the server adds its database commands through entry points, without them those
commands say so in one line, and nothing in cli/ or clients/ imports server code."""
import ast
import json
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from portico_cli import commands
from portico_cli.__main__ import build_parser, main
from portico_cli.audit import _document
from portico_client import AuditEvent

ROOT = Path(__file__).resolve().parents[3]
SERVER_PACKAGES = {"shared", "link_issuer", "portal_session", "connection_config", "audit"}


def group_names() -> list[str]:
    [groups] = [a for a in build_parser()._actions if a.dest == "group"]  # argparse keeps them here
    return list(groups.choices)


def test_the_server_adds_api_keys_and_operators_before_the_client_commands():
    assert group_names() == ["api-keys", "operators", "audit", "organizations", "links", "connections", "sso", "events", "completion"]


@pytest.mark.parametrize("args", [("operators", "list"), ("operators",), ("api-keys", "create", "--name", "x")])
def test_without_the_server_its_commands_end_with_one_line_and_exit_2(monkeypatch, capsys, args):
    monkeypatch.setattr(commands, "entry_points", lambda group: [])
    assert main(["--json", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line == (f"portico: `portico {args[0]}` works on link-issuer's database: run it where Portico's server "
                    "is installed (this portico has only the client's commands)")
    assert group_names() == ["api-keys", "operators", "audit", "organizations", "links", "connections", "sso", "events", "completion"]


def test_a_server_command_that_cannot_be_loaded_is_one_line_and_the_rest_still_works(monkeypatch, capsys):
    broken = EntryPoint(name="operators", value="portico_no_such_module:register", group=commands.ENTRY_POINT_GROUP)
    monkeypatch.setattr(commands, "entry_points", lambda group: [broken])
    assert main(["operators", "list"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("portico: `portico operators` could not be loaded from portico_no_such_module:register: ")
    assert "ModuleNotFoundError" in line
    assert main(["completion", "bash"]) == 0


def test_nothing_in_cli_or_clients_imports_server_code():
    found = []
    for source in [*(ROOT / "cli").rglob("*.py"), *(ROOT / "clients").rglob("*.py")]:
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [f"{source.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in SERVER_PACKAGES]
    assert found == []


def test_audit_events_json_is_the_record_as_the_api_sent_it():
    record = {
        "sequence": 7, "organization_id": "org_1", "organization_sequence": 3, "event_id": "evt_1",
        "type": "portico.organization.created", "dataversion": 1, "time": "2026-11-26T12:00:00.000000Z",
        "recorded_at": "2026-11-26T12:00:00.123400Z", "source": "portico/link-issuer",
        "actor": {"kind": "api_key", "id": "key_1", "client_address": "203.0.113.7", "user_agent": "curl/8.5"},
        "target": "org_1", "data": {"display_name": "Acme", "ratio": 1.5}, "prev_hash": "0" * 64, "hash": "f" * 64,
    }
    shown = _document(AuditEvent.model_validate(record))
    assert json.dumps(shown) == json.dumps(record)  # the same members, values and order


def test_sso_authorize_url_is_built_from_portico_url_without_a_key_or_a_request(monkeypatch, capsys):
    monkeypatch.setenv("PORTICO_URL", "https://sso.example.com/")
    monkeypatch.delenv("PORTICO_API_KEY", raising=False)
    assert main(["sso", "authorize-url", "--organization", "org_1", "--redirect-uri", "https://app/cb", "--state", "s"]) == 0
    assert capsys.readouterr().out == (
        "https://sso.example.com/sso/v1/authorize?organization_id=org_1&redirect_uri=https%3A%2F%2Fapp%2Fcb&state=s\n")
    assert main(["sso", "authorize-url", "--connection", "conn_1", "--redirect-uri", "https://app/cb", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(printed["state"]) >= 20 and printed["url"].endswith(f"&state={printed['state']}")
    assert "connection_id=conn_1" in printed["url"]


def test_sso_exchange_without_a_key_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setenv("PORTICO_API_KEY", "")
    assert main(["sso", "exchange", "abc"]) == 2
    assert capsys.readouterr().err.startswith("portico: set PORTICO_API_KEY")
