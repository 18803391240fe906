"""`portico operators create|list|disable|reset-password`: operator console accounts, on link-issuer's database.

Like `portico api-keys`, these run where Portico runs (they read PORTICO_LINK_ISSUER_DATABASE_URL), so the
first admin can be made before anyone can sign in. A one-time password is printed as the last line.
"""
import argparse
import asyncio

from link_issuer.accounts import admin
from link_issuer.accounts.operators import Role
from link_issuer.domain import DomainError
from portico_cli.output import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CLIError, print_json, print_table
from shared.settings import Settings

COLUMNS = ["id", "email", "role", "disabled", "must_change_password", "created_at", "last_sign_in_at"]


def _refused(error: DomainError) -> CLIError:
    code = {404: EXIT_NOT_FOUND, 409: EXIT_FAILURE}.get(error.status, EXIT_USAGE)
    return CLIError(error.message, code)


def _create(args: argparse.Namespace) -> int:
    try:
        operator, password = asyncio.run(admin.create_operator(Settings(), args.email, args.role))
    except DomainError as error:
        raise _refused(error) from None
    if args.json:
        print_json({"operator": operator.document(), "one_time_password": password})
    else:
        print(f"Created operator {operator.id} ({operator.email}, {operator.role.value}).")
        print("One-time password (to be changed at first sign-in at /console/):")
        print(password)
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = [o.document() for o in asyncio.run(admin.list_operators(Settings()))]
    if args.json:
        print_json({"operators": rows})
    else:
        print_table(rows, COLUMNS)
    return 0


def _disable(args: argparse.Namespace) -> int:
    try:
        operator = asyncio.run(admin.disable_operator_account(Settings(), args.operator))
    except DomainError as error:
        raise _refused(error) from None
    if args.json:
        print_json({"id": operator.id, "email": operator.email, "disabled": True})
    else:
        print(f"Disabled {operator.id} ({operator.email}); their console sessions have ended.")
    return 0


def _reset_password(args: argparse.Namespace) -> int:
    try:
        operator, password = asyncio.run(admin.reset_password(Settings(), args.operator))
    except DomainError as error:
        raise _refused(error) from None
    if args.json:
        print_json({"id": operator.id, "email": operator.email, "one_time_password": password})
    else:
        print(f"Reset the password of {operator.id} ({operator.email}); their console sessions have ended.")
        print("One-time password (to be changed at first sign-in):")
        print(password)
    return 0


def register(groups: argparse._SubParsersAction) -> None:  # noqa: SLF001 - argparse's own type
    parser = groups.add_parser("operators", help="create, list, disable operator console accounts; reset passwords")
    commands = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    create = commands.add_parser("create", help="make an account and print its one-time password (last line)")
    create.add_argument("--email", required=True, help="the operator's email; they sign in with it")
    role = create.add_argument("--role", required=True, metavar="ROLE", help="admin, support or auditor")
    role.completions = [r.value for r in Role]  # type: ignore[attr-defined]  # read by `portico completion`
    create.set_defaults(run=_create)
    commands.add_parser("list", help="list accounts (never their passwords)").set_defaults(run=_list)
    disable = commands.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("operator", metavar="OPERATOR", help="operator id (opr_…) or email")
    disable.set_defaults(run=_disable)
    reset = commands.add_parser("reset-password", help="replace a password with a one-time one (last line)")
    reset.add_argument("operator", metavar="OPERATOR", help="operator id (opr_…) or email")
    reset.set_defaults(run=_reset_password)
