"""Applying an admin's SAML/OIDC input to a connection's settings, once any documents were fetched (no I/O)."""
import re
from dataclasses import replace
from datetime import datetime

from connection_config import oidc, saml
from connection_config.model import (
    AttributeMapping,
    ConfigWarning,
    ConnectionProblem,
    OidcSettings,
    SamlSettings,
)
from connection_config.schemas import OidcInput, SamlInput
from connection_config.urls import check_url

_PRINTABLE = re.compile(r"^[\x20-\x7E]+$")
_EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
_METADATA_FIELDS = ("metadata_url", "metadata_xml")
_IDP_FIELDS = ("idp_entity_id", "sso_url", "certificates")


def _text(value: str, field: str, what: str, max_length: int) -> str:
    value = value.strip()
    if not value or len(value) > max_length or not _PRINTABLE.match(value):
        raise ConnectionProblem(
            "invalid_value", f"{what} must be 1 to {max_length} printable characters.", field
        )
    return value


def check_saml_sources(change: SamlInput) -> None:
    """The IdP's values come from one place: a metadata URL, a metadata file, or typed fields."""
    sources = [name for name in _METADATA_FIELDS if getattr(change, name) is not None]
    typed = [name for name in _IDP_FIELDS if getattr(change, name) is not None]
    if len(sources) > 1:
        raise ConnectionProblem(
            "several_sources", "Give the metadata either by URL or as XML, not both.", "saml.metadata_xml"
        )
    if sources and typed:
        raise ConnectionProblem(
            "several_sources",
            f"saml.{typed[0]} comes from the metadata; send either the metadata or the individual fields.",
            f"saml.{typed[0]}",
        )


def apply_saml(
    current: SamlSettings, change: SamlInput, *, metadata: saml.IdpMetadata | None, now: datetime
) -> tuple[SamlSettings, tuple[ConfigWarning, ...] | None]:
    """New settings, and the notes to keep (None: keep the previous ones; IdP values did not change)."""
    check_saml_sources(change)
    settings = current
    notes: tuple[ConfigWarning, ...] | None = None
    if metadata is not None:
        name_id_format = settings.name_id_format
        if metadata.name_id_formats and name_id_format not in metadata.name_id_formats:
            name_id_format = _EMAIL_FORMAT if _EMAIL_FORMAT in metadata.name_id_formats else metadata.name_id_formats[0]
        settings = replace(
            settings,
            idp_entity_id=metadata.entity_id,
            sso_url=metadata.sso_url,
            sso_binding=metadata.sso_binding,
            certificates=metadata.certificates,
            name_id_format=name_id_format,
            metadata_url=change.metadata_url,
        )
        notes = metadata.warnings
    if any(getattr(change, name) is not None for name in _IDP_FIELDS):
        settings = replace(settings, metadata_url=None)  # typed values: a metadata refresh would overwrite them
        notes = ()
    if change.idp_entity_id is not None:
        settings = replace(settings, idp_entity_id=_text(
            change.idp_entity_id, "saml.idp_entity_id", "The IdP entity ID", saml.MAX_ENTITY_ID_LENGTH))
    if change.sso_url is not None:
        settings = replace(settings, sso_url=check_url(change.sso_url, "saml.sso_url", what="The SSO URL"))
    if change.sso_binding is not None:
        settings = replace(settings, sso_binding=change.sso_binding)
    if change.certificates is not None:
        settings = replace(settings, certificates=saml.parse_entered_certificates(change.certificates, now))
    if change.name_id_format is not None:
        settings = replace(settings, name_id_format=_text(
            change.name_id_format, "saml.name_id_format", "The NameID format", 256))
    if change.attribute_mapping is not None:
        mapping = {
            name: _text(value, f"saml.attribute_mapping.{name}", f"The {name.replace('_', ' ')} attribute", 256)
            for name, value in change.attribute_mapping.model_dump(exclude_none=True).items()
        }
        settings = replace(settings, attribute_mapping=replace(settings.attribute_mapping, **mapping))
    return settings, notes


def default_saml() -> SamlSettings:
    return SamlSettings(attribute_mapping=AttributeMapping())


def requested_scopes(current: OidcSettings, change: OidcInput) -> tuple[str, ...]:
    return oidc.check_scopes(change.scopes) if change.scopes is not None else current.scopes


def apply_oidc(
    current: OidcSettings, change: OidcInput, *, issuer: str | None, discovery: oidc.Discovery | None
) -> tuple[OidcSettings, tuple[ConfigWarning, ...] | None]:
    """New settings (the secret is handled apart, never held here) and the notes to keep (None: unchanged)."""
    settings = replace(current, scopes=requested_scopes(current, change))
    notes: tuple[ConfigWarning, ...] | None = None
    if discovery is not None:
        settings = replace(
            settings,
            issuer=issuer,
            authorization_endpoint=discovery.authorization_endpoint,
            token_endpoint=discovery.token_endpoint,
            jwks_uri=discovery.jwks_uri,
            userinfo_endpoint=discovery.userinfo_endpoint,
        )
        notes = discovery.warnings
    if change.client_id is not None:
        settings = replace(settings, client_id=oidc.check_client_id(change.client_id))
    return settings, notes
