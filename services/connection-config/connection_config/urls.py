"""Checks of URLs an admin enters or an IdP publishes (syntax only; reaching them is outbound.py's job)."""
from urllib.parse import urlsplit

from connection_config.model import ConnectionProblem
from shared.net import is_loopback_host

MAX_URL_LENGTH = 2048


def host_port(url: str) -> str:
    """`host:port` of an absolute http(s) URL, the form PORTICO_OUTBOUND_ALLOW_HOSTS lists."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_url(value: str, field: str, *, allow_http: bool = False, what: str = "This URL") -> str:
    """An absolute https URL (http only when `allow_http`, or on loopback), without credentials."""
    value = value.strip()
    if not value:
        raise ConnectionProblem("url_required", f"{what} is empty; paste the full https:// address.", field)
    if len(value) > MAX_URL_LENGTH:
        raise ConnectionProblem("url_too_long", f"{what} is longer than {MAX_URL_LENGTH} characters.", field)
    if any(not char.isprintable() or char.isspace() or char in "<>\"\\^`{|}" for char in value):
        raise ConnectionProblem("url_invalid", f"{what} contains spaces or characters a URL cannot hold.", field)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConnectionProblem("url_invalid", f"{what} is not a valid URL.", field) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConnectionProblem(
            "url_invalid", f"{what} must be an absolute address starting with https://.", field
        )
    if parts.username is not None or parts.password is not None:
        raise ConnectionProblem(
            "url_has_credentials", f"{what} must not contain a user name or password.", field
        )
    if parts.scheme == "http" and not (allow_http or is_loopback_host(parts.hostname)):
        raise ConnectionProblem(
            "https_required", f"{what} must use https://; plain http would expose sign-ins to tampering.", field
        )
    return value
