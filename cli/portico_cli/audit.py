"""`portico audit events|export|verify`: the audit log through the management API.

They call PORTICO_URL (default http://127.0.0.1:8080) with the API key in PORTICO_API_KEY.
"""
import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import httpx

from portico_cli.output import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CLIError, print_json, print_table

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT = httpx.Timeout(30.0, read=600.0)  # verify and export of a large log take a while
MAX_PAGES = 100_000  # `events --all` stops here even if the server kept answering with a cursor


def _base_url() -> str:
    return os.environ.get("PORTICO_URL", DEFAULT_URL).rstrip("/")


@contextmanager
def _client() -> Iterator[httpx.Client]:
    key = os.environ.get("PORTICO_API_KEY")
    if not key:
        raise CLIError("set PORTICO_API_KEY to a management API key", EXIT_USAGE)
    with httpx.Client(base_url=_base_url(), headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT) as client:
        try:
            yield client
        except httpx.HTTPError as error:
            raise CLIError(f"cannot reach Portico at {_base_url()}: {error}") from None


def _fail(response: httpx.Response) -> NoReturn:
    try:
        error = response.json()["error"]
        message = f"{error['message']} ({error['code']}, HTTP {response.status_code})"
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code} from {response.request.url.path}"
    code = {400: EXIT_USAGE, 404: EXIT_NOT_FOUND, 422: EXIT_USAGE}.get(response.status_code, EXIT_FAILURE)
    raise CLIError(message, code)


def _get(client: httpx.Client, path: str, params: dict[str, Any]) -> dict[str, Any]:
    response = client.get(path, params={k: v for k, v in params.items() if v is not None})
    if response.status_code != 200:
        _fail(response)
    return response.json()


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"organization_id": args.organization_id, "type": args.type, "since": args.since, "until": args.until}


def _events(args: argparse.Namespace) -> int:
    params = {**_filters(args), "limit": args.limit, "cursor": args.cursor}
    events: list[dict[str, Any]] = []
    with _client() as client:
        for _ in range(MAX_PAGES):
            page = _get(client, "/api/v1/audit/events", params)
            events.extend(page["events"])
            params["cursor"] = page["next_cursor"]
            if not args.all or not page["next_cursor"]:
                break
    if args.json:
        print_json({"events": events, "next_cursor": params["cursor"]})
        return 0
    rows = [
        {
            "sequence": e["sequence"], "time": e["time"], "type": e["type"], "organization_id": e["organization_id"],
            "actor": ":".join(filter(None, (e["actor"]["kind"], e["actor"]["id"]))), "target": e["target"],
        }
        for e in events
    ]
    print_table(rows, ["sequence", "time", "type", "organization_id", "actor", "target"])
    if params["cursor"]:
        print(f"more: --cursor {params['cursor']}")
    return 0


def _export(args: argparse.Namespace) -> int:
    params = {k: v for k, v in {**_filters(args), "format": args.format}.items() if v is not None}
    partial = None if args.output == "-" else Path(f"{args.output}.partial")
    size = lines = 0
    try:
        with _client() as client, client.stream("GET", "/api/v1/audit/export", params=params) as response:
            if response.status_code != 200:
                response.read()
                _fail(response)
            # Written beside the target and renamed at the end: a cut-off download never looks complete.
            out = sys.stdout.buffer if partial is None else partial.open("wb")
            try:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            finally:
                if partial is not None:
                    out.close()
    except BaseException:
        if partial is not None:
            partial.unlink(missing_ok=True)
        raise
    if partial is not None:
        partial.replace(args.output)
    records = lines if args.format == "jsonl" else max(lines - 1, 0)  # csv: less the header line
    if args.json:
        print_json({"output": args.output, "format": args.format, "records": records, "bytes": size})
    elif partial is not None:
        print(f"Exported {records} records ({size} bytes) to {args.output}.")
    return 0


def _verify(args: argparse.Namespace) -> int:
    with _client() as client:
        report = _get(client, "/api/v1/audit/verify", {"organization_id": args.organization_id})
    scope = f"organization {report['organization_id']}" if report["organization_id"] else "all organizations"
    if args.json:
        print_json(report)
    elif report["ok"]:
        print(f"OK: {report['checked']} records of {scope} verified, "
              f"{report['checkpoints_checked']} signed checkpoints checked.")
    else:
        broken = report["first_broken"]
        where = (f"record {broken['sequence']} (event {broken.get('event_id')}, organization "
                 f"{broken.get('organization_id')})" if broken.get("sequence") else f"checkpoint {broken.get('checkpoint')}")
        print(f"BROKEN: {where}: {broken['reason']}; expected {broken.get('expected')}, found {broken.get('found')}")
    return 0 if report["ok"] else EXIT_FAILURE


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--organization-id", help="only this organization (org_…)")
    parser.add_argument("--type", help="only this event type, e.g. portico.connection.updated")
    parser.add_argument("--since", help="events at or after this RFC 3339 time")
    parser.add_argument("--until", help="events before this RFC 3339 time")


def register(groups: argparse._SubParsersAction) -> None:  # noqa: SLF001 - argparse's own type
    parser = groups.add_parser("audit", help="query, export and verify the audit log")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)

    events = commands.add_parser("events", help="list audit records, oldest first")
    _add_filters(events)
    events.add_argument("--limit", type=int, default=100, help="records per page (1-1000)")
    events.add_argument("--cursor", help="continue after the page that printed this cursor")
    events.add_argument("--all", action="store_true", help="follow cursors to the end")
    events.set_defaults(run=_events)

    export = commands.add_parser("export", help="stream the log to a file as JSONL or CSV")
    _add_filters(export)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--output", default="-", help="file to write ('-' for standard output)")
    export.set_defaults(run=_export)

    verify = commands.add_parser("verify", help="recompute the hash chains; exit 1 if one is broken")
    verify.add_argument("--organization-id", help="only this organization's chain")
    verify.set_defaults(run=_verify)
