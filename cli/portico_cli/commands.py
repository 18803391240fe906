"""The CLI's command groups; each module adds its subcommands with a `register(groups)` function."""
from portico_cli import api_keys

REGISTRARS = [api_keys.register]
