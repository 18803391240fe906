"""Request bodies of the connections API (pydantic at the edge; unknown fields are refused by name)."""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from connection_config.model import ConnectionType

_SHORT = 2048


class AttributeMappingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=256)
    first_name: str | None = Field(default=None, max_length=256)
    last_name: str | None = Field(default=None, max_length=256)
    groups: str | None = Field(default=None, max_length=256)


class SamlInput(BaseModel):
    """One source of IdP values (metadata URL, metadata XML, or fields), plus optional SP-side settings."""

    model_config = ConfigDict(extra="forbid")

    metadata_url: str | None = Field(default=None, max_length=_SHORT)
    metadata_xml: str | None = None  # size is checked by the parser, with an explanation
    idp_entity_id: str | None = Field(default=None, max_length=_SHORT)
    sso_url: str | None = Field(default=None, max_length=_SHORT * 2)
    sso_binding: Literal["HTTP-Redirect", "HTTP-POST"] | None = None
    certificates: list[str] | None = Field(default=None, max_length=50)
    name_id_format: str | None = Field(default=None, max_length=256)
    attribute_mapping: AttributeMappingInput | None = None


class OidcInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issuer: str | None = Field(default=None, max_length=_SHORT)
    client_id: str | None = Field(default=None, max_length=_SHORT)
    client_secret: str | None = Field(default=None, max_length=_SHORT * 2)
    scopes: list[str] | None = Field(default=None, max_length=50)


class CreateConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ConnectionType
    provider: str = Field(max_length=64)
    saml: SamlInput | None = None
    oidc: OidcInput | None = None


class UpdateConnection(BaseModel):
    """PATCH: only the fields to change. `type` may be repeated but not changed."""

    model_config = ConfigDict(extra="forbid")

    type: ConnectionType | None = None
    provider: str | None = Field(default=None, max_length=64)
    saml: SamlInput | None = None
    oidc: OidcInput | None = None
