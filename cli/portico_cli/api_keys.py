"""`portico api-keys create|list|revoke`: management API keys, administered on link-issuer's database.

These run where Portico runs (they read PORTICO_LINK_ISSUER_DATABASE_URL), so the first key can be made
before any key exists.
"""
import argparse
import asyncio

from link_issuer.accounts import admin
from portico_cli.output import EXIT_NOT_FOUND, CLIError, print_json, print_table
from shared.settings import Settings


def _create(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name or len(name) > 200:
        raise CLIError("--name must be 1 to 200 characters", 2)
    key_id, key = asyncio.run(admin.create_api_key(Settings(), name))
    if args.json:
        print_json({"id": key_id, "name": name, "key": key})
    else:
        print(f"Created API key {key_id} ({name}). Store it now; Portico keeps only its hash:")
        print(key)
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = asyncio.run(admin.list_api_keys(Settings()))
    rows = [
        {"id": k.id, "name": k.name, "created_at": k.created_at.isoformat(), "revoked_at": k.revoked_at and k.revoked_at.isoformat()}
        for k in keys
    ]
    if args.json:
        print_json({"api_keys": rows})
    else:
        print_table(rows, ["id", "name", "created_at", "revoked_at"])
    return 0


def _revoke(args: argparse.Namespace) -> int:
    if not asyncio.run(admin.revoke_api_key(Settings(), args.key_id)):
        raise CLIError(f"no API key {args.key_id}", EXIT_NOT_FOUND)
    if args.json:
        print_json({"id": args.key_id, "revoked": True})
    else:
        print(f"Revoked {args.key_id}.")
    return 0


def register(groups: argparse._SubParsersAction) -> None:  # noqa: SLF001 - argparse's own type
    parser = groups.add_parser("api-keys", help="create, list and revoke management API keys")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    create = commands.add_parser("create", help="make a new key and print it (last line)")
    create.add_argument("--name", required=True, help="what the key is for, e.g. 'billing backend'")
    create.set_defaults(run=_create)
    commands.add_parser("list", help="list keys (never their secrets)").set_defaults(run=_list)
    revoke = commands.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_revoke)
