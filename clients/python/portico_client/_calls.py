"""Each management API call once: the request it sends and how its answer becomes a model (no I/O here)."""
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx

from portico_client._transport import Call
from portico_client.models import (
    AuditEventPage,
    Connection,
    LinkSummary,
    Organization,
    PortalLink,
    Profile,
    SignInPage,
    VerifyReport,
)

ExportFormat = Literal["jsonl", "csv"]
Moment = datetime | str | None
# Verify and export read the whole log on the server: give them time between bytes.
LONG_READ = httpx.Timeout(30.0, connect=5.0, read=600.0)


def _segment(value: str) -> str:
    """An id as one path segment, so `../` in a caller's value cannot reach another route."""
    if not value:
        raise ValueError("an id is required")
    return quote(value, safe="")


def _organization_path(organization_id: str) -> str:
    return f"/api/v1/organizations/{_segment(organization_id)}"


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _time(value: Moment) -> str | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def audit_filters(organization_id: str | None, event_type: str | None, since: Moment, until: Moment) -> dict[str, Any]:
    return _without_none(
        {"organization_id": organization_id, "type": event_type, "since": _time(since), "until": _time(until)}
    )


# Organizations and links ---------------------------------------------------------------------

def create_organization(display_name: str, external_id: str | None, allowed_frame_ancestors: list[str] | None) -> Call:
    body = _without_none(
        {"display_name": display_name, "external_id": external_id, "allowed_frame_ancestors": allowed_frame_ancestors}
    )
    return Call("POST", "/api/v1/organizations", json=body)


def get_organization(organization_id: str) -> Call:
    return Call("GET", _organization_path(organization_id))


def organization(response: httpx.Response) -> Organization:
    return Organization.model_validate(response.json()["organization"])


def generate_portal_link(organization_id: str, return_url: str | None, success_url: str | None) -> Call:
    body = _without_none({"return_url": return_url, "success_url": success_url})
    return Call("PUT", f"{_organization_path(organization_id)}/portal_links", json=body or None)


def create_shareable_link(
    organization_id: str, expires_in_seconds: int | None, return_url: str | None, success_url: str | None
) -> Call:
    body = _without_none(
        {"kind": "shareable", "expires_in_seconds": expires_in_seconds, "return_url": return_url, "success_url": success_url}
    )
    return Call("POST", f"{_organization_path(organization_id)}/portal_links", json=body)


def portal_link(response: httpx.Response) -> PortalLink:
    return PortalLink.model_validate(response.json()["link"])


def list_links(organization_id: str) -> Call:
    return Call("GET", f"{_organization_path(organization_id)}/portal_links")


def links(response: httpx.Response) -> list[LinkSummary]:
    return [LinkSummary.model_validate(link) for link in response.json()["links"]]


def revoke_link(organization_id: str, link_id: str) -> Call:
    return Call("DELETE", f"{_organization_path(organization_id)}/portal_links/{_segment(link_id)}")


# Connections ---------------------------------------------------------------------------------

def list_connections(organization_id: str) -> Call:
    return Call("GET", f"{_organization_path(organization_id)}/connections")


def connections(response: httpx.Response) -> list[Connection]:
    return [Connection.model_validate(connection) for connection in response.json()["connections"]]


# Audit ---------------------------------------------------------------------------------------

def list_audit_events(filters: dict[str, Any], cursor: str | None, limit: int | None) -> Call:
    return Call("GET", "/api/v1/audit/events", params={**filters, **_without_none({"cursor": cursor, "limit": limit})})


def audit_page(response: httpx.Response) -> AuditEventPage:
    return AuditEventPage.model_validate(response.json())


def next_cursor(page: AuditEventPage | SignInPage, previous: str | None) -> str | None:
    """The cursor to follow, or None at the end; a server repeating a cursor would loop forever."""
    if page.next_cursor is not None and page.next_cursor == previous:
        raise RuntimeError(f"the API returned cursor {previous!r} twice")
    return page.next_cursor


def export_audit(filters: dict[str, Any], export_format: ExportFormat) -> Call:
    if export_format not in ("jsonl", "csv"):
        raise ValueError("format must be 'jsonl' or 'csv'")
    return Call("GET", "/api/v1/audit/export", params={**filters, "format": export_format}, timeout=LONG_READ)


def verify_audit(organization_id: str | None) -> Call:
    return Call("GET", "/api/v1/audit/verify", params=_without_none({"organization_id": organization_id}),
                timeout=LONG_READ)


def verify_report(response: httpx.Response) -> VerifyReport:
    return VerifyReport.model_validate(response.json())



# Sign-in -------------------------------------------------------------------------------------

def authorization_url(
    base_url: httpx.URL, organization_id: str | None, connection_id: str | None, redirect_uri: str, state: str
) -> str:
    """Where to send the user's browser to sign in: by organization (its enabled connection) or connection."""
    if (organization_id is None) == (connection_id is None):
        raise ValueError("pass exactly one of organization_id and connection_id")
    if not redirect_uri or not state:
        raise ValueError("redirect_uri and state are required")
    chosen = {"organization_id": organization_id} if organization_id is not None else {"connection_id": connection_id}
    query = urlencode({**chosen, "redirect_uri": redirect_uri, "state": state})
    return f"{str(base_url).rstrip('/')}/sso/v1/authorize?{query}"


def exchange_code(code: str) -> Call:
    if not code:
        raise ValueError("a code is required")
    return Call("POST", "/api/v1/sso/token", json={"code": code})


def profile(response: httpx.Response) -> Profile:
    return Profile.model_validate(response.json()["profile"])


def sign_in_filters(connection_id: str | None, kind: str | None, status: str | None) -> dict[str, Any]:
    return _without_none({"connection_id": connection_id, "kind": kind, "status": status})


def list_sign_ins(organization_id: str, filters: dict[str, Any], cursor: str | None, limit: int | None) -> Call:
    return Call("GET", f"{_organization_path(organization_id)}/sign_ins",
                params={**filters, **_without_none({"cursor": cursor, "limit": limit})})


def sign_in_page(response: httpx.Response) -> SignInPage:
    return SignInPage.model_validate(response.json())
