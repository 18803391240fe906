"""Crafted input from callers and outside servers: refused with a 4xx or made harmless, never a 500."""
import argparse
import base64
import csv
import io
from datetime import UTC, datetime

import pytest
from starlette.requests import Request

from audit.api import CSV_COLUMNS, DEFAULT_LIMIT, MAX_LIMIT, _csv_cell, _csv_lines, _csv_row
from audit.domain import AuditRecord
from audit.query import InvalidCursor, decode_cursor
from connection_config.api import _optional_version, read_body
from connection_config.model import ConnectionProblem
from connection_config.oidc import MAX_DISCOVERY_BYTES, parse_discovery
from connection_config.schemas import CreateConnection
from link_issuer.domain import normalize_origin
from portico_cli.links import _positive
from shared.errors import DomainError
from shared.link_tokens import InvalidLinkToken, read_link_token
from shared.numbers import page_limit, whole_number

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


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("42", 42), ("0007", 7), ("9" * 19, int("9" * 19))])
def test_whole_number_reads_ascii_digits(text, expected):
    assert whole_number(text) == expected


@pytest.mark.parametrize("text", ["", "\u00b2", "1\u00b2", "\u0663", "\uff11", "-1", "+1", " 1", "1 ", "1_000", "1.0",
                                  "1\n", "9" * 20, "1" * 5000])
def test_whole_number_refuses_anything_else(text):
    assert whole_number(text) is None


def _request_with(header: bytes, value: bytes) -> Request:
    return Request({"type": "http", "method": "PATCH", "path": "/", "headers": [(header, value)], "query_string": b""})


@pytest.mark.parametrize("limit", ["\u00b2", "\u0663", "1" * 5000])
def test_audit_limit_in_other_digits_or_too_long_is_a_400_naming_limit(limit):
    with pytest.raises(DomainError) as refused:
        page_limit(limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    assert (refused.value.status, refused.value.field) == (400, "limit")


@pytest.mark.parametrize("cursor", [
    "YWZ0ZXI6\u00b2",
    base64.urlsafe_b64encode(b"after:" + b"1" * 5000).decode().rstrip("="),  # int() refuses over 4,300 digits
])
def test_audit_cursor_with_other_digits_or_too_many_is_refused(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


@pytest.mark.parametrize("tag", [b'"\xb2"', '"\u0663"'.encode(), b'W/"\xb9"'])
def test_connection_if_match_in_other_digits_is_a_400(tag):
    with pytest.raises(DomainError) as refused:
        _optional_version(_request_with(b"if-match", tag))
    assert (refused.value.status, refused.value.code) == (400, "invalid_if_match")


async def test_connection_body_with_a_non_ascii_content_length_is_read_by_its_real_size():
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    request = Request({"type": "http", "method": "POST", "path": "/", "headers": [(b"content-length", b"\xb2")],
                       "query_string": b""}, receive)
    with pytest.raises(DomainError) as refused:  # reached the model's check: nothing raised on the header
        await read_body(request, CreateConnection)
    assert refused.value.status == 422


@pytest.mark.parametrize("value", ["\u00b2", "\u0663\u0660", "0"])
def test_cli_expires_in_accepts_only_ascii_digits(value):
    with pytest.raises(argparse.ArgumentTypeError):
        _positive(value)


@pytest.mark.parametrize("document", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"issuer": ' + b'{"a":' * 20_000 + b"1" + b"}" * 20_001,
])
def test_oidc_discovery_document_nested_too_deeply_is_a_422_on_the_issuer(document):
    assert len(document) <= MAX_DISCOVERY_BYTES  # under the size cap: only the nesting is hostile
    with pytest.raises(ConnectionProblem) as refused:
        parse_discovery(document, issuer="https://idp.example.com", scopes=("openid",), allow_http=False)
    assert (refused.value.status, refused.value.code, refused.value.field) == (422, "discovery_not_json", "oidc.issuer")
    assert "nest too deeply" in refused.value.message
