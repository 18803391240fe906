"""The CLI's command groups: its own, and those an installed Portico server adds.

Each group is a `register(groups)` function adding its subcommands. A server adds groups through the entry
point group `portico.commands` (name: the command, value: its register function): link-issuer brings
`api-keys` and `operators`, which work on its database. Without it they answer with one line saying so.
"""
import argparse
from collections.abc import Callable
from importlib.metadata import entry_points

from portico_cli import audit, completion, connections, events, links, organizations, sso
from portico_cli.output import EXIT_USAGE, CLIError

Registrar = Callable[[argparse._SubParsersAction], None]  # argparse's own type
ENTRY_POINT_GROUP = "portico.commands"
# What the server's groups administer, for the line that says they are not installed here.
SERVER_GROUPS = {"api-keys": "management API keys", "operators": "operator console accounts"}
CLIENT_GROUPS: list[Registrar] = [
    audit.register,
    organizations.register,
    links.register,
    connections.register,
    sso.register,
    events.register,
    completion.register,
]


def _unavailable(name: str, reason: str) -> Registrar:
    """A group that takes any arguments and ends with `reason`, instead of argparse's 'invalid choice'."""
    def fail(args: argparse.Namespace) -> int:
        raise CLIError(reason, EXIT_USAGE)

    def register(groups: argparse._SubParsersAction) -> None:
        parser = groups.add_parser(name, help=f"{SERVER_GROUPS.get(name, name)} (not installed here)", description=reason)
        parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        parser.set_defaults(run=fail)

    return register


def _server_groups() -> list[Registrar]:
    found = {entry_point.name: entry_point for entry_point in entry_points(group=ENTRY_POINT_GROUP)}
    registrars: list[Registrar] = []
    for name in sorted(SERVER_GROUPS.keys() | found.keys()):
        if name not in found:
            registrars.append(_unavailable(name, (
                f"`portico {name}` works on link-issuer's database: run it where Portico's server is installed "
                f"(this portico has only the client's commands)")))
            continue
        try:
            registrars.append(found[name].load())
        except Exception as error:  # a broken server installation must not take the client's commands down
            registrars.append(_unavailable(name, f"`portico {name}` could not be loaded from {found[name].value}: {error!r}"))
    return registrars


def registrars() -> list[Registrar]:
    """Every group in `portico --help` order: the server's (by name), then the client's."""
    return [*_server_groups(), *CLIENT_GROUPS]
