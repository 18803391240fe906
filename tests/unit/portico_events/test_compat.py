"""The event catalogue stays backward compatible with the AsyncAPI document committed in docs/asyncapi.json."""
import copy
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from portico_events import CATALOGUE, CloudEvent, PortalLinkRevoked
from portico_events.asyncapi import asyncapi_document, main, render
from portico_events.compat import breaking_changes, message_schemas

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "asyncapi.json"
UPDATED = ("portico.connection.updated", 1)


def committed_in_git() -> dict[str, Any] | None:
    """docs/asyncapi.json as of HEAD, so regenerating the file in the work tree cannot hide a break."""
    try:
        shown = subprocess.run(["git", "show", "HEAD:docs/asyncapi.json"], cwd=ROOT, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return json.loads(shown.stdout) if shown.returncode == 0 else None


def data_schema(document: dict[str, Any], key: tuple[str, int]) -> dict[str, Any]:
    """The `data` schema of one message, edited in place by the tests below."""
    name = next(
        m["payload"]["$ref"].rsplit("/", 1)[-1]
        for m in document["components"]["messages"].values()
        if m["title"].startswith(f"{key[0]}:")
    )
    data_ref = document["components"]["schemas"][name]["properties"]["data"]["$ref"]
    return document["components"]["schemas"][data_ref.rsplit("/", 1)[-1]]


@pytest.fixture
def current() -> dict[str, Any]:
    return copy.deepcopy(asyncapi_document())


def test_committed_document_is_the_generated_one():
    assert COMMITTED.read_text() == render(asyncapi_document()), (
        "docs/asyncapi.json is stale: run python -m portico_events.asyncapi --write docs/asyncapi.json"
    )


def test_current_catalogue_breaks_no_consumer_of_the_committed_document():
    baselines = [json.loads(COMMITTED.read_text())]
    if (in_git := committed_in_git()) is not None:
        baselines.append(in_git)
    for baseline in baselines:
        assert breaking_changes(baseline, asyncapi_document()) == []


def test_document_describes_every_catalogue_event_with_its_version_and_topic(current):
    assert set(message_schemas(current)) == {(t, m.event_version) for t, m in CATALOGUE.items()}
    for event_type, model in CATALOGUE.items():
        assert current["channels"][event_type]["address"] == model.topic
        assert current["operations"][event_type]["action"] == "send"


def test_removed_field_is_breaking(current):
    changed = copy.deepcopy(current)
    del data_schema(changed, UPDATED)["properties"]["changed_fields"]
    assert breaking_changes(current, changed) == ["portico.connection.updated v1: data.changed_fields was removed"]


def test_retyped_field_is_breaking(current):
    changed = copy.deepcopy(current)
    data_schema(changed, UPDATED)["properties"]["version"] = {"type": "string"}
    [problem] = breaking_changes(current, changed)
    assert problem.startswith("portico.connection.updated v1: data.version changed type")


def test_new_required_field_is_breaking_and_a_new_optional_one_is_not(current):
    optional = copy.deepcopy(current)
    data_schema(optional, UPDATED)["properties"]["reason"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert breaking_changes(current, optional) == []

    required = copy.deepcopy(optional)
    data_schema(required, UPDATED)["required"].append("reason")
    assert breaking_changes(current, required) == ["portico.connection.updated v1: data.reason is newly required"]


def test_narrowed_enum_in_a_shared_schema_is_breaking_for_every_event_using_it(current):
    changed = copy.deepcopy(current)
    changed["components"]["schemas"]["Actor"]["properties"]["kind"]["enum"].remove("operator")
    problems = breaking_changes(current, changed)
    assert len(problems) == len(CATALOGUE)
    assert all(": data.actor.kind changed type from " in problem for problem in problems)


def test_removed_event_type_is_breaking_and_reworded_descriptions_are_not(current):
    changed = copy.deepcopy(current)
    data_schema(changed, UPDATED)["description"] = "Reworded."
    data_schema(changed, UPDATED)["properties"]["provider"]["title"] = "Identity provider"
    assert breaking_changes(current, changed) == []
    del changed["components"]["messages"]["portico.connection.deleted:Message"]
    assert breaking_changes(current, changed) == ["portico.connection.deleted v1: the event type or version was removed"]


def test_generator_refuses_to_overwrite_a_document_with_a_breaking_change(tmp_path, current):
    older = copy.deepcopy(current)
    data_schema(older, UPDATED)["properties"]["retired_field"] = {"type": "string"}
    target = tmp_path / "asyncapi.json"
    target.write_text(render(older))

    assert main(["--write", str(target)]) == 1
    assert json.loads(target.read_text()) == older
    assert main(["--check", str(target)]) == 1
    assert main(["--write", str(target), "--allow-breaking"]) == 0
    assert main(["--check", str(target)]) == 0


def test_a_consumer_reads_events_from_a_newer_producer_with_an_added_optional_field():
    data = PortalLinkRevoked(organization_id="org_1", link_id="lnk_1")
    event = CloudEvent.wrap(data, source="/portico/link-issuer", time=datetime(2026, 11, 26, tzinfo=UTC))
    from_newer_producer = event.model_copy(update={"data": {**event.data, "reason": "admin_request"}})
    assert from_newer_producer.typed_data() == data
