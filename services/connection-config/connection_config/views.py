"""The connection as the APIs show it (BRIEF §3 shape C): SP values, warnings, never a secret (no I/O)."""
from datetime import datetime
from typing import Any

from connection_config import oidc, saml
from connection_config.model import ConfigWarning, Connection, OidcSettings, SamlSettings, is_tested, missing_fields
from shared.timestamps import rfc3339

# Below this length even the last 4 characters would give away too much of a secret.
MIN_SECRET_LENGTH_FOR_HINT = 12




def secret_hint(secret: str) -> str | None:
    return secret[-4:] if len(secret) >= MIN_SECRET_LENGTH_FOR_HINT else None


def warnings(connection: Connection, now: datetime) -> list[ConfigWarning]:
    found = list(connection.notes)
    if connection.saml is not None:
        found.extend(saml.certificate_warnings(connection.saml.certificates, now))
    if connection.status == "draft":
        found.extend(
            ConfigWarning("incomplete", f"Fill in {field} before this connection can be enabled.", field)
            for field in missing_fields(connection)
        )
    return found


def render(
    connection: Connection, *, public_url: str, now: datetime, client_secret_last4: str | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": connection.id,
        "organization_id": connection.organization_id,
        "type": connection.type,
        "provider": connection.provider,
        "status": connection.status,
        "version": connection.version,
        # Whether the current IdP settings have passed a connection test: enabling needs it.
        "tested": is_tested(connection),
        "created_at": rfc3339(connection.created_at),
        "updated_at": rfc3339(connection.updated_at),
        "updated_by": connection.updated_by,
        "warnings": [warning.as_dict() for warning in warnings(connection, now)],
    }
    if connection.type == "saml":
        settings = connection.saml or SamlSettings()
        view["sp"] = saml.service_provider_values(public_url, connection.id)
        view["saml"] = {
            "idp_entity_id": settings.idp_entity_id,
            "sso_url": settings.sso_url,
            "sso_binding": settings.sso_binding,
            "certificates": [
                {
                    "fingerprint_sha256": cert.fingerprint_sha256,
                    "not_before": rfc3339(cert.not_before),
                    "not_after": rfc3339(cert.not_after),
                    "subject": cert.subject,
                }
                for cert in settings.certificates
            ],
            "name_id_format": settings.name_id_format,
            "attribute_mapping": dict(vars(settings.attribute_mapping)),
            "metadata_url": settings.metadata_url,
        }
    else:
        settings_oidc = connection.oidc or OidcSettings()
        view["sp"] = {"redirect_uri": oidc.redirect_uri(public_url, connection.id)}
        view["oidc"] = {
            "issuer": settings_oidc.issuer,
            "client_id": settings_oidc.client_id,
            "client_secret_set": connection.client_secret is not None,
            "client_secret_last4": client_secret_last4,
            "scopes": list(settings_oidc.scopes),
            "authorization_endpoint": settings_oidc.authorization_endpoint,
            "token_endpoint": settings_oidc.token_endpoint,
            "jwks_uri": settings_oidc.jwks_uri,
            "userinfo_endpoint": settings_oidc.userinfo_endpoint,
        }
    return view
