"""Crafted input from callers and outside servers: refused with a 4xx or made harmless, never a 500."""
import csv
import io
from datetime import UTC, datetime

import pytest

from audit.api import CSV_COLUMNS, _csv_cell, _csv_lines, _csv_row
from audit.domain import AuditRecord
from link_issuer.domain import DomainError, normalize_origin
from shared.link_tokens import InvalidLinkToken, read_link_token

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def audit_record(**overrides: object) -> AuditRecord:
    values: dict[str, object] = {
        "sequence": 7, "organization_id": "org_1", "organization_sequence": 3, "event_id": "evt_1",
        "event_type": "portico.organization.created", "data_version": 1, "event_time": NOW, "recorded_at": NOW,
        "source": "portico/link-issuer", "actor_kind": "api_key", "actor_id": "key_1", "client_address": "203.0.113.7",
        "user_agent": "curl/8.5", "target": "org_1", "data": '{"display_name":"Acme"}', "prev_hash": "0" * 64,
        "hash": "f" * 64,
    }
    return AuditRecord(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cell_that_a_spreadsheet_would_run_as_a_formula_gets_a_leading_quote(text):
    assert _csv_cell(text) == f"'{text}"


@pytest.mark.parametrize("value", ["curl/8.5", '{"display_name":"=1"}', "a=b", "", None, 42, "'already quoted"])
def test_csv_cell_that_cannot_start_a_formula_is_written_as_it_is(value):
    assert _csv_cell(value) == value


def test_csv_export_row_neutralises_every_column_a_caller_controls():
    record = audit_record(user_agent='=HYPERLINK("http://x","click")', actor_id="@evil", target="-1+1",
                          client_address="+1")
    [row] = csv.DictReader(io.StringIO(_csv_lines([list(CSV_COLUMNS), _csv_row(record)])))
    assert (row["actor_id"], row["client_address"], row["user_agent"], row["target"]) == (
        "'@evil", "'+1", '\'=HYPERLINK("http://x","click")', "'-1+1")
    assert (row["sequence"], row["data"]) == ("7", '{"display_name":"Acme"}')


@pytest.mark.parametrize("value", [
    "https://app.example.com *",  # a second source: any site may frame the portal
    "https://*.example.com",
    "https://app.example.com;script-src *",  # a new directive in the portal's policy
    "https://app.example.com,evil.example",  # a second policy
    "https://app.example.com\tx", "https://app\x01.example.com", "https://bücher.example",
    "https://app.example.com:99999", "https://app.example.com:x", "https://[::1",
])
def test_frame_ancestor_that_would_not_be_exactly_one_csp_source_is_refused_naming_its_entry(value):
    with pytest.raises(DomainError) as refused:
        normalize_origin(value, "allowed_frame_ancestors.2")
    assert (refused.value.status, refused.value.code, refused.value.field) == (422, "invalid_origin", "allowed_frame_ancestors.2")


@pytest.mark.parametrize(("value", "expected"), [
    (" https://App.Example.com/ ", "https://app.example.com"),
    ("https://xn--bcher-kva.example:8443", "https://xn--bcher-kva.example:8443"),
    ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
])
def test_frame_ancestor_that_is_one_origin_is_still_accepted(value, expected):
    assert normalize_origin(value, "allowed_frame_ancestors.0") == expected


@pytest.mark.parametrize("token", ["v1.a.\u00e9", "v1.\u00e9.abc", "v1.a.\u00b2", "v1.eyJsIjoxfQ.\u0661\u0662"])
def test_link_token_with_non_ascii_characters_is_an_unknown_link(token):
    with pytest.raises(InvalidLinkToken):
        read_link_token(token, b"k" * 32)
