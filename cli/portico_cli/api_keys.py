"""`portico api-keys create|list|revoke`: management API keys, administered on link-issuer's database."""
import argparse


def register(groups: argparse._SubParsersAction) -> None:  # noqa: SLF001 - argparse's own type
    parser = groups.add_parser("api-keys", help="create, list and revoke management API keys")
    parser.set_defaults(run=lambda args: parser.print_help() or 2)
