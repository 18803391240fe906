"""`portico organizations create|get`: customer organizations through the management API."""
import argparse
from typing import Any

from portico_cli.http import portico
from portico_cli.output import print_json, print_table
from portico_client import Organization

COLUMNS = ["id", "display_name", "external_id", "allowed_frame_ancestors", "created_at"]


def organization_row(organization: Organization) -> dict[str, Any]:
    return {
        **organization.model_dump(mode="json", include=set(COLUMNS)),
        "allowed_frame_ancestors": " ".join(organization.allowed_frame_ancestors),
    }


def _show(args: argparse.Namespace, organization: Organization) -> int:
    if args.json:
        print_json({"organization": organization.model_dump(mode="json")})
    else:
        print_table([organization_row(organization)], COLUMNS)
    return 0


def _create(args: argparse.Namespace) -> int:
    with portico() as client:
        organization = client.organizations.create(
            args.display_name, external_id=args.external_id, allowed_frame_ancestors=args.frame_ancestor
        )
    return _show(args, organization)


def _get(args: argparse.Namespace) -> int:
    with portico() as client:
        organization = client.organizations.get(args.organization_id)
    return _show(args, organization)


def register(groups: argparse._SubParsersAction) -> None:  # argparse's own type
    parser = groups.add_parser("organizations", help="create and show customer organizations")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    create = commands.add_parser("create", help="create an organization")
    create.add_argument("--display-name", required=True, help="the name its IT admin sees in the portal")
    create.add_argument("--external-id", help="your own id for it (unique)")
    create.add_argument("--frame-ancestor", action="append", metavar="ORIGIN",
                        help="an origin allowed to embed the portal, e.g. https://app.example.com (repeatable)")
    create.set_defaults(run=_create)
    get = commands.add_parser("get", help="show one organization")
    get.add_argument("organization_id", metavar="ORGANIZATION_ID")
    get.set_defaults(run=_get)
