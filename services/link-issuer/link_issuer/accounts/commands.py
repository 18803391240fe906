"""`portico api-keys …` and `portico operators …`: API keys and operator accounts, on link-issuer's database.

They come with the server, not with the CLI: pyproject.toml adds them to `portico` through the entry point
group `portico.commands`. They run where Portico runs (they read PORTICO_LINK_ISSUER_DATABASE_URL), so the
first key and the first admin need neither a key nor a sign-in. A new key or one-time password is printed
as the last line.
"""
import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from link_issuer.accounts import admin
from link_issuer.accounts.operators import Role
from portico_cli.output import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CLIError, print_json, print_table
from shared.errors import DomainError
from shared.logs import configure_logging
from shared.settings import Settings

OPERATOR_COLUMNS = ["id", "email", "role", "disabled", "must_change_password", "created_at", "last_sign_in_at"]
T = TypeVar("T")


def _on_database(work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    # The server's code logs through structlog: to stderr, redacted, so stdout holds only the result.
    configure_logging("cli", "warning", "console", stream=sys.stderr)
    return asyncio.run(work(Settings()))


def _refused(error: DomainError) -> CLIError:
    code = {404: EXIT_NOT_FOUND, 409: EXIT_FAILURE}.get(error.status, EXIT_USAGE)
    return CLIError(error.message, code)


# API keys ------------------------------------------------------------------------------------

def _create_api_key(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name or len(name) > 200:
        raise CLIError("--name must be 1 to 200 characters", EXIT_USAGE)
    key_id, key = _on_database(lambda settings: admin.create_api_key(settings, name))
    if args.json:
        print_json({"id": key_id, "name": name, "key": key})
    else:
        print(f"Created API key {key_id} ({name}). Store it now; Portico keeps only its hash:")
        print(key)
    return 0


def _list_api_keys(args: argparse.Namespace) -> int:
    keys = _on_database(admin.list_api_keys)
    rows = [
        {"id": k.id, "name": k.name, "created_at": k.created_at.isoformat(), "revoked_at": k.revoked_at and k.revoked_at.isoformat()}
        for k in keys
    ]
    if args.json:
        print_json({"api_keys": rows})
    else:
        print_table(rows, ["id", "name", "created_at", "revoked_at"])
    return 0


def _revoke_api_key(args: argparse.Namespace) -> int:
    if not _on_database(lambda settings: admin.revoke_api_key(settings, args.key_id)):
        raise CLIError(f"no API key {args.key_id}", EXIT_NOT_FOUND)
    if args.json:
        print_json({"id": args.key_id, "revoked": True})
    else:
        print(f"Revoked {args.key_id}.")
    return 0


def register_api_keys(groups: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = groups.add_parser("api-keys", help="create, list and revoke management API keys")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    create = commands.add_parser("create", help="make a new key and print it (last line)")
    create.add_argument("--name", required=True, help="what the key is for, e.g. 'billing backend'")
    create.set_defaults(run=_create_api_key)
    commands.add_parser("list", help="list keys (never their secrets)").set_defaults(run=_list_api_keys)
    revoke = commands.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_revoke_api_key)


# Operators -----------------------------------------------------------------------------------

def _create_operator(args: argparse.Namespace) -> int:
    try:
        operator, password = _on_database(lambda settings: admin.create_operator(settings, args.email, args.role))
    except DomainError as error:
        raise _refused(error) from None
    if args.json:
        print_json({"operator": operator.document(), "one_time_password": password})
    else:
        print(f"Created operator {operator.id} ({operator.email}, {operator.role.value}).")
        print("One-time password (to be changed at first sign-in at /console/):")
        print(password)
    return 0


def _list_operators(args: argparse.Namespace) -> int:
    rows = [o.document() for o in _on_database(admin.list_operators)]
    if args.json:
        print_json({"operators": rows})
    else:
        print_table(rows, OPERATOR_COLUMNS)
    return 0


def _disable_operator(args: argparse.Namespace) -> int:
    try:
        operator = _on_database(lambda settings: admin.disable_operator_account(settings, args.operator))
    except DomainError as error:
        raise _refused(error) from None
    if args.json:
        print_json({"id": operator.id, "email": operator.email, "disabled": True})
    else:
        print(f"Disabled {operator.id} ({operator.email}); their console sessions have ended.")
    return 0


def _reset_password(args: argparse.Namespace) -> int:
    try:
        operator, password = _on_database(lambda settings: admin.reset_password(settings, args.operator))
    except DomainError as error:
        raise _refused(error) from None
    if args.json:
        print_json({"id": operator.id, "email": operator.email, "one_time_password": password})
    else:
        print(f"Reset the password of {operator.id} ({operator.email}); their console sessions have ended.")
        print("One-time password (to be changed at first sign-in):")
        print(password)
    return 0


def register_operators(groups: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = groups.add_parser("operators", help="create, list, disable operator console accounts; reset passwords")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    create = commands.add_parser("create", help="make an account and print its one-time password (last line)")
    create.add_argument("--email", required=True, help="the operator's email; they sign in with it")
    role = create.add_argument("--role", required=True, metavar="ROLE", help="admin, support or auditor")
    role.completions = [r.value for r in Role]  # type: ignore[attr-defined]  # read by `portico completion`
    create.set_defaults(run=_create_operator)
    commands.add_parser("list", help="list accounts (never their passwords)").set_defaults(run=_list_operators)
    disable = commands.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("operator", metavar="OPERATOR", help="operator id (opr_…) or email")
    disable.set_defaults(run=_disable_operator)
    reset = commands.add_parser("reset-password", help="replace a password with a one-time one (last line)")
    reset.add_argument("operator", metavar="OPERATOR", help="operator id (opr_…) or email")
    reset.set_defaults(run=_reset_password)
