"""`portico audit events|export|verify`: the audit log through the management API (portico_client's `audit`).

They call PORTICO_URL (default http://127.0.0.1:8080) with the API key in PORTICO_API_KEY.
"""
import argparse
import sys
from typing import Any

from portico_cli.http import portico
from portico_cli.output import EXIT_FAILURE, print_json, print_table, wire_time
from portico_client import AuditEvent, VerifyReport


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"organization_id": args.organization_id, "type": args.type, "since": args.since, "until": args.until}


def _document(event: AuditEvent) -> dict[str, Any]:
    """The record as the API sent it (its times in the wire form, which hashing also uses)."""
    return {**event.model_dump(mode="json"), "time": wire_time(event.time), "recorded_at": wire_time(event.recorded_at)}


def _events(args: argparse.Namespace) -> int:
    with portico() as client:
        if args.all:
            events = list(client.audit.events(**_filters(args), page_size=args.limit, cursor=args.cursor))
            cursor = None
        else:
            page = client.audit.list_events(**_filters(args), limit=args.limit, cursor=args.cursor)
            events, cursor = page.events, page.next_cursor
    if args.json:
        print_json({"events": [_document(e) for e in events], "next_cursor": cursor})
        return 0
    rows = [
        {
            "sequence": e.sequence, "time": wire_time(e.time), "type": e.type, "organization_id": e.organization_id,
            "actor": ":".join(filter(None, (e.actor.kind, e.actor.id))), "target": e.target,
        }
        for e in events
    ]
    print_table(rows, ["sequence", "time", "type", "organization_id", "actor", "target"])
    if cursor:
        print(f"more: --cursor {cursor}")
    return 0


def _export(args: argparse.Namespace) -> int:
    # A file is written beside its target and renamed at the end: a cut-off download never looks complete.
    destination = sys.stdout.buffer if args.output == "-" else args.output
    with portico() as client:
        result = client.audit.export(destination, format=args.format, **_filters(args))
    if args.json:
        print_json({"output": args.output, "format": result.format, "records": result.records, "bytes": result.bytes})
    elif result.path is not None:
        print(f"Exported {result.records} records ({result.bytes} bytes) to {args.output}.")
    return 0


def _broken(report: VerifyReport) -> str:
    broken = report.first_broken or {}
    where = (f"record {broken['sequence']} (event {broken.get('event_id')}, organization "
             f"{broken.get('organization_id')})" if broken.get("sequence") else f"checkpoint {broken.get('checkpoint')}")
    return f"BROKEN: {where}: {broken.get('reason')}; expected {broken.get('expected')}, found {broken.get('found')}"


def _verify(args: argparse.Namespace) -> int:
    with portico() as client:
        report = client.audit.verify(organization_id=args.organization_id)
    scope = f"organization {report.organization_id}" if report.organization_id else "all organizations"
    if args.json:
        print_json(report.model_dump(mode="json"))
    elif report.ok:
        print(f"OK: {report.checked} records of {scope} verified, "
              f"{report.checkpoints_checked} signed checkpoints checked.")
    else:
        print(_broken(report))
    return 0 if report.ok else EXIT_FAILURE


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--organization-id", help="only this organization (org_…)")
    parser.add_argument("--type", help="only this event type, e.g. portico.connection.updated")
    parser.add_argument("--since", help="events at or after this RFC 3339 time")
    parser.add_argument("--until", help="events before this RFC 3339 time")


def register(groups: argparse._SubParsersAction) -> None:  # argparse's own type
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
