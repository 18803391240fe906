"""How CLI commands call the management API: portico_client configured from PORTICO_URL and PORTICO_API_KEY.

Client errors become one-line CLIErrors with the documented exit codes.
"""
import os
from collections.abc import Iterator
from contextlib import contextmanager

from portico_cli.output import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CLIError
from portico_client import Portico, PorticoError, RetryPolicy

DEFAULT_URL = "http://127.0.0.1:8080"
# An operator at a terminal would rather see an error than wait through long backoff.
CLI_RETRY = RetryPolicy(max_retries=2, base_delay=0.5, max_delay=2.0, max_retry_after=10.0)


def base_url() -> str:
    return os.environ.get("PORTICO_URL", DEFAULT_URL).rstrip("/")


def exit_code_for(error: PorticoError) -> int:
    if error.status == 404:
        return EXIT_NOT_FOUND
    if error.status in (400, 422):
        return EXIT_USAGE
    return EXIT_FAILURE


@contextmanager
def portico() -> Iterator[Portico]:
    """A client for the duration of one command; any PorticoError inside ends the command with one line."""
    key = os.environ.get("PORTICO_API_KEY", "").strip()
    if not key:
        raise CLIError("set PORTICO_API_KEY to a management API key (portico api-keys create --name NAME)", EXIT_USAGE)
    try:
        with Portico(base_url(), key, retry=CLI_RETRY) as client:
            yield client
    except PorticoError as error:
        raise CLIError(str(error), exit_code_for(error)) from None
