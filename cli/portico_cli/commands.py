"""The CLI's command groups; each module adds its subcommands with a `register(groups)` function."""
from portico_cli import api_keys, audit, completion, connections, events, links, operators, organizations

REGISTRARS = [
    api_keys.register,
    operators.register,
    audit.register,
    organizations.register,
    links.register,
    connections.register,
    events.register,
    completion.register,
]
