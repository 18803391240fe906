"""`portico …` / `python -m portico_cli …`: one-line errors and documented exit codes, never a traceback."""
import argparse
import logging
import sys
from collections.abc import Sequence

from portico_cli import commands
from portico_cli.output import EXIT_FAILURE, CLIError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portico", description="Portico: self-service SSO setup portal.")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)
    for register in commands.registrars():
        register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Warnings of the libraries (httpx, aiokafka) go to stderr: stdout is for results only.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="portico: %(name)s: %(levelname)s: %(message)s")
    try:
        return args.run(args) or 0
    except CLIError as error:
        print(f"portico: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception as error:  # the last line of defence: one line, never a traceback
        print(f"portico: unexpected error: {error!r}", file=sys.stderr)
        return EXIT_FAILURE


def entrypoint() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()

