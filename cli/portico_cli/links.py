"""`portico links magic|shareable|list|revoke`: portal links for an organization's IT admin."""
import argparse
import re

from portico_cli.http import portico
from portico_cli.output import print_json, print_table
from portico_client import PortalLink

# ASCII digits only: str.isdigit() also accepts '²' (then int() fails) and '٣' (then int() reads 3).
_SECONDS = re.compile(r"[0-9]{1,19}")


def _issued(args: argparse.Namespace, link: PortalLink) -> int:
    if args.json:
        print_json({"link": link.model_dump(mode="json")})
    else:
        reuse = "one use" if link.kind == "magic" else "reusable"
        expires = link.expire_time.isoformat().replace("+00:00", "Z")
        print(f"{link.kind.capitalize()} link {link.id} ({reuse}, expires {expires}); "
              "send the IT admin to:")
        print(link.location)  # the last line, so `| tail -n 1` gives the URL
    return 0


def _magic(args: argparse.Namespace) -> int:
    with portico() as client:
        link = client.organizations.generate_portal_link(
            args.organization_id, return_url=args.return_url, success_url=args.success_url
        )
    return _issued(args, link)


def _shareable(args: argparse.Namespace) -> int:
    with portico() as client:
        link = client.organizations.create_shareable_link(
            args.organization_id, expires_in_seconds=args.expires_in,
            return_url=args.return_url, success_url=args.success_url,
        )
    return _issued(args, link)


def _list(args: argparse.Namespace) -> int:
    with portico() as client:
        links = client.organizations.list_links(args.organization_id)
    if args.json:
        print_json({"links": [link.model_dump(mode="json") for link in links]})
    else:
        print_table([link.model_dump(mode="json") for link in links], ["id", "kind", "state", "created_at", "expire_time"])
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with portico() as client:
        client.organizations.revoke_link(args.organization_id, args.link_id)
    if args.json:
        print_json({"organization_id": args.organization_id, "link_id": args.link_id, "revoked": True})
    else:
        print(f"Revoked {args.link_id}; its portal sessions end now.")
    return 0


def _positive(value: str) -> int:
    if not _SECONDS.fullmatch(value) or int(value) < 1:
        raise argparse.ArgumentTypeError("expected a whole number of seconds, at least 1")
    return int(value)


def _redirects(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--return-url", help="where the portal's back link goes")
    parser.add_argument("--success-url", help="where the admin lands after finishing setup")


def register(groups: argparse._SubParsersAction) -> None:  # argparse's own type
    parser = groups.add_parser("links", help="issue, list and revoke portal links")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    magic = commands.add_parser("magic", help="a one-time link, valid 5 minutes (prints its URL last)")
    magic.add_argument("organization_id", metavar="ORGANIZATION_ID")
    _redirects(magic)
    magic.set_defaults(run=_magic)
    shareable = commands.add_parser("shareable", help="a reusable link, 7 days by default (prints its URL last)")
    shareable.add_argument("organization_id", metavar="ORGANIZATION_ID")
    shareable.add_argument("--expires-in", type=_positive, metavar="SECONDS", help="lifetime, at most 604800")
    _redirects(shareable)
    shareable.set_defaults(run=_shareable)
    listing = commands.add_parser("list", help="an organization's links (never their URLs)")
    listing.add_argument("organization_id", metavar="ORGANIZATION_ID")
    listing.set_defaults(run=_list)
    revoke = commands.add_parser("revoke", help="revoke a link and end its sessions")
    revoke.add_argument("organization_id", metavar="ORGANIZATION_ID")
    revoke.add_argument("link_id", metavar="LINK_ID")
    revoke.set_defaults(run=_revoke)
