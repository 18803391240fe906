"""How the console reads what other services own: connections (connection-config) and the audit log (audit),
over the internal network, vouched for with the internal token and the operator as X-Portico-Actor."""
from collections.abc import Mapping
from typing import Any

from portico_events import Actor
from shared.errors import DomainError
from shared.internal_http import Export, InternalClient, Upstream

AUDIT_FILTERS = ("organization_id", "type", "actor", "since", "until")


class ConnectionReader(InternalClient):
    async def summaries(self, organization_id: str, actor: Actor) -> list[dict[str, Any]]:
        """What the console shows of an organization's connections (connection-config records the view)."""
        answer = await self.get_json(f"/api/v1/organizations/{organization_id}/connections", actor)
        if answer.status == 404:
            return []  # connection-config has not learned this brand-new organization yet: none can exist
        if answer.status != 200:
            raise DomainError("connections_unavailable", "Could not read this organization's connections.",
                              status=answer.status)
        return [connection_summary(c) for c in answer.body.get("connections", [])]


    async def sign_ins(self, organization_id: str, actor: Actor, params: Mapping[str, str]) -> Upstream:
        """An organization's sign-in attempts and tests, newest first, as connection-config lists them."""
        return await self.get_json(f"/api/v1/organizations/{organization_id}/sign_ins", actor, params)


def connection_summary(connection: Mapping[str, Any]) -> dict[str, Any]:
    certificates = (connection.get("saml") or {}).get("certificates") or []
    expiries = sorted(c["not_after"] for c in certificates if c.get("not_after"))
    return {
        "id": connection.get("id"),
        "type": connection.get("type"),
        "provider": connection.get("provider"),
        "status": connection.get("status"),
        "version": connection.get("version"),
        "certificate_expires_at": expiries[0] if expiries else None,
        "updated_at": connection.get("updated_at"),
    }


class AuditReader(InternalClient):
    async def events(self, actor: Actor, params: Mapping[str, str]) -> Upstream:
        return await self.get_json("/api/v1/audit/events", actor, params)

    async def verify(self, actor: Actor, organization_id: str | None) -> Upstream:
        return await self.get_json("/api/v1/audit/verify", actor, {"organization_id": organization_id or ""})

    async def export(self, actor: Actor, params: Mapping[str, str]) -> Upstream | Export:
        return await self.stream("/api/v1/audit/export", actor, params)
