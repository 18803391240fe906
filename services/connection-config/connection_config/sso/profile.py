"""The profile a sign-in yields (BRIEF §5 shape), mapped from SAML attributes or OIDC claims."""
import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from connection_config.model import AttributeMapping
from connection_config.sso.errors import SignInError

ConnectionType = Literal["saml", "oidc"]

# Attribute names IdPs use out of the box, compared without case: Okta and Keycloak (email, firstName),
# Entra ID and AD FS (the claim URIs), Shibboleth and LDAP (mail, givenName, sn, memberOf and their OIDs).
SAML_EMAIL = (
    "email", "mail", "emailaddress", "email_address", "user.email", "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
SAML_FIRST_NAME = (
    "firstname", "first_name", "givenname", "given_name", "user.firstname", "urn:oid:2.5.4.42",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
)
SAML_LAST_NAME = (
    "lastname", "last_name", "surname", "sn", "family_name", "user.lastname", "urn:oid:2.5.4.4",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
)
SAML_GROUPS = (
    "groups", "group", "memberof", "roles", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", "http://schemas.xmlsoap.org/claims/group",
)
NAME_ID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 320


@dataclass(frozen=True)
class Profile:
    id: str
    idp_id: str
    email: str
    first_name: str | None
    last_name: str | None
    groups: tuple[str, ...]
    raw_attributes: Mapping[str, Any]
    connection_id: str
    connection_type: ConnectionType
    organization_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "idp_id": self.idp_id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "groups": list(self.groups),
            "raw_attributes": dict(self.raw_attributes),
            "connection_id": self.connection_id,
            "connection_type": self.connection_type,
            "organization_id": self.organization_id,
        }


def profile_id(connection_id: str, idp_id: str) -> str:
    """Stable for one user of one connection, so the app sees the same id at every sign-in."""
    digest = hashlib.sha256(f"{connection_id}\x00{idp_id}".encode()).digest()
    return "prof_" + base64.b32encode(digest[:16]).decode().rstrip("=").lower()


def normalized_email(value: str | None) -> str | None:
    """Lowercased and trimmed if it has the shape of an address; None otherwise."""
    if value is None:
        return None
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        return None
    return email


def _first(attributes: Mapping[str, Sequence[str]], names: Sequence[str]) -> list[str] | None:
    by_name = {name.lower(): values for name, values in attributes.items()}
    for name in names:
        values = by_name.get(name.lower())
        if values:
            return list(values)
    return None


def _one(values: list[str] | None) -> str | None:
    if not values:
        return None
    return values[0].strip() or None


def saml_profile(
    *, name_id: str, name_id_format: str | None, attributes: Mapping[str, Sequence[str]],
    mapping: AttributeMapping, connection_id: str, organization_id: str,
) -> Profile:
    """The connection's own attribute names first, then the common ones; the NameID gives the email last."""
    email_values = _first(attributes, (mapping.email, *SAML_EMAIL))
    candidate = _one(email_values)
    if candidate is None and (name_id_format == NAME_ID_EMAIL or _EMAIL.match(name_id.strip())):
        candidate = name_id
    email = normalized_email(candidate)
    if email is None:
        raise SignInError(
            "email_missing", expected=f"an email address in the NameID or an attribute named {mapping.email}",
            actual=candidate if candidate is not None else f"none (attributes: {', '.join(sorted(attributes)) or 'none'})",
        )
    return Profile(
        id=profile_id(connection_id, name_id),
        idp_id=name_id,
        email=email,
        first_name=_one(_first(attributes, (mapping.first_name, *SAML_FIRST_NAME))),
        last_name=_one(_first(attributes, (mapping.last_name, *SAML_LAST_NAME))),
        groups=tuple(dict.fromkeys(_first(attributes, (mapping.groups, *SAML_GROUPS)) or ())),
        raw_attributes={name: list(values) for name, values in attributes.items()},
        connection_id=connection_id,
        connection_type="saml",
        organization_id=organization_id,
    )


def _claim_text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _claim_groups(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(dict.fromkeys(item for item in value if isinstance(item, str)))
    return ()


def oidc_profile(claims: Mapping[str, Any], *, connection_id: str, organization_id: str) -> Profile:
    """From verified ID token claims: `sub` is the user's id at the IdP, `email` is required.

    `email_verified: false` is not refused: the connection's IdP is the organization's own directory, as
    authoritative for its users' addresses as a SAML NameID (Keycloak and Entra ID often omit or unset it)."""
    subject = claims["sub"]
    raw_email = claims.get("email")
    email = normalized_email(raw_email) if isinstance(raw_email, str) else None
    if email is None:
        raise SignInError("email_missing", expected="an email claim (request the email scope)",
                          actual=raw_email if isinstance(raw_email, str) else "none")
    return Profile(
        id=profile_id(connection_id, subject),
        idp_id=subject,
        email=email,
        first_name=_claim_text(claims, "given_name"),
        last_name=_claim_text(claims, "family_name"),
        groups=_claim_groups(claims.get("groups")),
        raw_attributes=dict(claims),
        connection_id=connection_id,
        connection_type="oidc",
        organization_id=organization_id,
    )
