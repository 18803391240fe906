"""`portico sso authorize-url|exchange|sign-ins`: signing users in through a connection (portico_client's `sso`)."""
import argparse
import os
import secrets

from portico_cli.http import base_url, portico
from portico_cli.output import print_json, print_table, wire_time
from portico_client import Portico

KINDS = ("sign_in", "test")
STATUSES = ("pending", "succeeded", "failed")


def _authorize_url(args: argparse.Namespace) -> int:
    state = args.state or secrets.token_urlsafe(16)
    # The URL is built here, without a request: no API key is needed for it.
    with Portico(base_url(), os.environ.get("PORTICO_API_KEY", "").strip() or "none") as client:
        url = client.sso.authorization_url(organization_id=args.organization, connection_id=args.connection,
                                           redirect_uri=args.redirect_uri, state=state)
    if args.json:
        print_json({"url": url, "state": state})
    else:
        print(url)
    return 0


def _exchange(args: argparse.Namespace) -> int:
    with portico() as client:
        profile = client.sso.exchange(args.code)
    if args.json:
        print_json({"profile": profile.model_dump(mode="json")})
        return 0
    print_table([{"email": profile.email, "first_name": profile.first_name, "last_name": profile.last_name,
                  "groups": ",".join(profile.groups), "idp_id": profile.idp_id,
                  "connection_id": profile.connection_id, "organization_id": profile.organization_id}],
                ["email", "first_name", "last_name", "groups", "idp_id", "connection_id", "organization_id"])
    return 0


def _sign_ins(args: argparse.Namespace) -> int:
    with portico() as client:
        page = client.sso.list_sign_ins(args.organization_id, connection_id=args.connection, kind=args.kind,
                                        status=args.status, limit=args.limit, cursor=args.cursor)
    if args.json:
        print_json({"sign_ins": [a.model_dump(mode="json") for a in page.sign_ins],
                    "next_cursor": page.next_cursor})
        return 0
    rows = [
        {"id": a.id, "created_at": wire_time(a.created_at), "kind": a.kind, "status": a.status,
         "connection_id": a.connection_id, "version": a.connection_version, "email": a.email,
         "error_code": a.error_code, "fix_in": a.fix_in, "duration_ms": a.duration_ms}
        for a in page.sign_ins
    ]
    print_table(rows, ["id", "created_at", "kind", "status", "connection_id", "version", "email", "error_code",
                       "fix_in", "duration_ms"])
    if page.next_cursor:
        print(f"more: --cursor {page.next_cursor}")
    return 0


def _positive_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


def register(groups: argparse._SubParsersAction) -> None:  # argparse's own type
    parser = groups.add_parser("sso", help="sign users in through a connection; list sign-in attempts")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    # --json after the action too; SUPPRESS keeps `portico --json sso …` working.
    json_option = {"action": "store_true", "default": argparse.SUPPRESS, "help": "print JSON"}

    url = commands.add_parser("authorize-url", help="the URL to send a user's browser to (no request is made)")
    chosen = url.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--organization", metavar="ORGANIZATION_ID", help="its enabled connection signs the user in")
    chosen.add_argument("--connection", metavar="CONNECTION_ID", help="this connection signs the user in")
    url.add_argument("--redirect-uri", required=True, metavar="URL", help="one of PORTICO_SSO_REDIRECT_URIS")
    url.add_argument("--state", default=None, metavar="S", help="comes back unchanged (default: random; --json prints it)")
    url.add_argument("--json", **json_option)  # type: ignore[arg-type]
    url.set_defaults(run=_authorize_url)

    exchange = commands.add_parser("exchange", help="the profile for a code your callback received (once)")
    exchange.add_argument("code", metavar="CODE")
    exchange.add_argument("--json", **json_option)  # type: ignore[arg-type]
    exchange.set_defaults(run=_exchange)

    listing = commands.add_parser("sign-ins", help="an organization's sign-in attempts and tests, newest first")
    listing.add_argument("organization_id", metavar="ORGANIZATION_ID")
    listing.add_argument("--connection", metavar="CONNECTION_ID", help="only this connection's")
    listing.add_argument("--kind", choices=KINDS, help="sign_in (an app's) or test (the portal's)")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=_positive_int, metavar="N", help="at most N (default 50, at most 200)")
    listing.add_argument("--cursor", metavar="C", help="the page after the one that printed it")
    listing.add_argument("--json", **json_option)  # type: ignore[arg-type]
    listing.set_defaults(run=_sign_ins)
