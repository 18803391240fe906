"""`portico connections list`: an organization's SSO connections (never their secrets)."""
import argparse

from portico_cli.http import portico
from portico_cli.output import print_json, print_table


def _list(args: argparse.Namespace) -> int:
    with portico() as client:
        connections = client.connections.list(args.organization_id)
    if args.json:
        print_json({"connections": [connection.model_dump(mode="json") for connection in connections]})
        return 0
    rows = [
        {
            "id": c.id, "type": c.type, "provider": c.provider, "status": c.status, "version": c.version,
            "updated_at": c.updated_at.isoformat(), "warnings": len(c.warnings),
        }
        for c in connections
    ]
    print_table(rows, ["id", "type", "provider", "status", "version", "updated_at", "warnings"])
    return 0


def register(groups: argparse._SubParsersAction) -> None:  # argparse's own type
    parser = groups.add_parser("connections", help="list an organization's SSO connections")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    listing = commands.add_parser("list", help="type, provider, status and version of each connection")
    listing.add_argument("organization_id", metavar="ORGANIZATION_ID")
    listing.set_defaults(run=_list)
