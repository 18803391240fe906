"""Keycloak's admin REST API for the sign-in tests: a realm per test session, users with attributes and
groups, an OIDC client and a SAML client as Portico's connections need them."""
import asyncio
import secrets
from collections.abc import AsyncIterator, Generator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.integration.keycloak.server import (
    ADMIN_USERNAME,
    KEYCLOAK_URL,
    KeycloakUnavailable,
    admin_password,
    start_keycloak,
    stop_keycloak,
)


class AdminToken(httpx.Auth):
    """A master-realm admin token (admin-cli, password grant), fetched when missing and again on a 401:
    Keycloak's admin tokens live one minute, a test session longer."""

    requires_response_body = True

    def __init__(self, base_url: str, password: str) -> None:
        self._token_url = f"{base_url}/realms/master/protocol/openid-connect/token"
        self._form = {"grant_type": "password", "client_id": "admin-cli", "username": ADMIN_USERNAME, "password": password}
        self._token: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None:
            self._token = self._read((yield httpx.Request("POST", self._token_url, data=self._form)))
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            self._token = self._read((yield httpx.Request("POST", self._token_url, data=self._form)))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    @staticmethod
    def _read(response: httpx.Response) -> str:
        if response.status_code != 200:
            raise KeycloakUnavailable(f"Keycloak refused the admin credentials: {response.status_code} {response.text[:200]}")
        return str(response.json()["access_token"])


@dataclass(frozen=True)
class KeycloakUser:
    id: str
    username: str
    password: str
    email: str
    first_name: str
    last_name: str
    groups: tuple[str, ...]
    attributes: Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class KeycloakClient:
    id: str  # Keycloak's internal id, for the admin API
    client_id: str  # the OIDC client_id, or the SAML SP's entity id
    secret: str | None = None


@dataclass
class KeycloakRealm:
    """One realm, administered over REST. Every test makes its own users and clients in it."""

    base_url: str
    name: str
    admin: httpx.AsyncClient = field(repr=False)

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/realms/{self.name}"

    @property
    def oidc_discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def saml_metadata_url(self) -> str:
        return f"{self.issuer}/protocol/saml/descriptor"

    @property
    def saml_sso_url(self) -> str:
        """Where SP-initiated SAML starts (HTTP-Redirect or HTTP-POST binding)."""
        return f"{self.issuer}/protocol/saml"

    async def saml_metadata(self) -> str:
        response = await self.admin.get(self.saml_metadata_url)
        response.raise_for_status()
        return response.text

    async def rotate_signing_key(self) -> None:
        """A new RSA key of higher priority than the realm's first: Keycloak signs with it from now on (what an
        IdP admin's key rotation does; the old certificate stays published in the metadata until removed)."""
        realm = (await self.admin.get(self._admin_url)).raise_for_status().json()
        await self._create("components", {
            "name": unique("rotated"), "providerId": "rsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": realm["id"], "config": {"priority": ["500"], "keySize": ["2048"], "algorithm": ["RS256"]},
        })

    async def regenerate_client_secret(self, client_id: str) -> str:
        """A new secret for the OIDC client `client_id` (the old one stops working at once)."""
        [client] = (await self.admin.get(f"{self._admin_url}/clients", params={"clientId": client_id})).raise_for_status().json()
        answer = await self.admin.post(f"{self._admin_url}/clients/{client['id']}/client-secret")
        return str(answer.raise_for_status().json()["value"])

    async def create_group(self, name: str) -> str:
        return await self._create("groups", {"name": name})

    async def create_user(
        self,
        username: str,
        *,
        email: str,
        first_name: str,
        last_name: str,
        groups: Sequence[str] = (),
        attributes: Mapping[str, Sequence[str]] | None = None,
        password: str | None = None,
    ) -> KeycloakUser:
        """A user who can sign in at once (no required actions); `groups` must exist already."""
        password = password or secrets.token_urlsafe(12)
        user_id = await self._create("users", {
            "username": username,
            "email": email,
            "emailVerified": True,
            "firstName": first_name,
            "lastName": last_name,
            "enabled": True,
            "attributes": dict(attributes or {}),
            "groups": [f"/{group}" for group in groups],
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        })
        return KeycloakUser(user_id, username, password, email, first_name, last_name, tuple(groups), dict(attributes or {}))

    async def create_oidc_client(
        self,
        client_id: str,
        redirect_uris: Sequence[str],
        *,
        claims_from_attributes: Sequence[str] = (),
        attributes: Mapping[str, str] | None = None,
    ) -> KeycloakClient:
        """A confidential client for the authorization code flow with PKCE (S256, required); the ID token
        carries email, names, `groups` and one claim per user attribute in `claims_from_attributes`.
        `attributes` overrides Keycloak client attributes."""
        secret = secrets.token_urlsafe(24)
        mappers = [_oidc_claim_mapper("groups", "oidc-group-membership-mapper", {"full.path": "false"})]
        mappers += [
            _oidc_claim_mapper(name, "oidc-usermodel-attribute-mapper", {"user.attribute": name, "jsonType.label": "String"})
            for name in claims_from_attributes
        ]
        internal_id = await self._create("clients", {
            "clientId": client_id,
            "protocol": "openid-connect",
            "enabled": True,
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "secret": secret,
            "redirectUris": list(redirect_uris),
            "standardFlowEnabled": True,
            "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "attributes": {"pkce.code.challenge.method": "S256", **(attributes or {})},
            "protocolMappers": mappers,
        })
        return KeycloakClient(internal_id, client_id, secret)

    async def create_saml_client(
        self,
        entity_id: str,
        acs_url: str,
        *,
        attributes_from_user: Sequence[str] = (),
        attributes: Mapping[str, str] | None = None,
    ) -> KeycloakClient:
        """A SAML SP: assertions and responses signed with RSA-SHA256, NameID the email, and the attributes
        email, firstName, lastName, groups plus one per user attribute in `attributes_from_user`.
        `attributes` overrides Keycloak client attributes (e.g. `saml.assertion.signature`)."""
        representation = {
            "clientId": entity_id,
            "protocol": "saml",
            "enabled": True,
            "redirectUris": [acs_url],
            "attributes": {"saml_assertion_consumer_url_post": acs_url},
        }
        return await self._create_saml_client(representation, attributes_from_user, attributes or {})

    async def create_saml_client_from_metadata(
        self,
        sp_metadata_xml: str,
        *,
        attributes_from_user: Sequence[str] = (),
        attributes: Mapping[str, str] | None = None,
    ) -> KeycloakClient:
        """As create_saml_client, with the entity id and ACS read by Keycloak from the SP's metadata
        (its client-description converter, what the admin console's import does)."""
        response = await self.admin.post(
            f"{self._admin_url}/client-description-converter",
            content=sp_metadata_xml.encode(),
            headers={"Content-Type": "application/xml"},
        )
        response.raise_for_status()
        representation = response.json()
        acs_url = representation.get("attributes", {}).get("saml_assertion_consumer_url_post")
        if acs_url and not representation.get("redirectUris"):
            representation["redirectUris"] = [acs_url]
        return await self._create_saml_client(representation, attributes_from_user, attributes or {})

    async def _create_saml_client(
        self, representation: dict[str, Any], attributes_from_user: Sequence[str], attributes: Mapping[str, str]
    ) -> KeycloakClient:
        representation["attributes"] = {
            **representation.get("attributes", {}),
            "saml.server.signature": "true",
            "saml.assertion.signature": "true",
            "saml.signature.algorithm": "RSA_SHA256",
            "saml_signature_canonicalization_method": "http://www.w3.org/2001/10/xml-exc-c14n#",
            "saml.client.signature": "false",
            "saml.encrypt": "false",
            "saml.authnstatement": "true",
            "saml_name_id_format": "email",
            "saml_force_name_id_format": "true",
            **attributes,
        }
        mappers = [
            _saml_attribute_mapper(name, "saml-user-property-mapper", {"user.attribute": name})
            for name in ("email", "firstName", "lastName")
        ]
        mappers.append(_saml_attribute_mapper("groups", "saml-group-membership-mapper", {"single": "false", "full.path": "false"}))
        mappers += [
            _saml_attribute_mapper(name, "saml-user-attribute-mapper", {"user.attribute": name})
            for name in attributes_from_user
        ]
        representation["protocolMappers"] = mappers
        representation["defaultClientScopes"] = []  # no realm-wide extras (the role list): only the attributes above
        internal_id = await self._create("clients", representation)
        return KeycloakClient(internal_id, str(representation["clientId"]))

    @property
    def _admin_url(self) -> str:
        return f"{self.base_url}/admin/realms/{self.name}"

    async def _create(self, collection: str, representation: Mapping[str, Any]) -> str:
        """POST to the realm's collection; Keycloak answers 201 with the new object's id in Location."""
        response = await self.admin.post(f"{self._admin_url}/{collection}", json=representation)
        if response.status_code != 201:
            raise RuntimeError(f"Keycloak refused to create {collection}: {response.status_code} {response.text[:300]}")
        return response.headers["Location"].rsplit("/", 1)[-1]


def _oidc_claim_mapper(claim: str, mapper: str, config: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": claim,
        "protocol": "openid-connect",
        "protocolMapper": mapper,
        "config": {"claim.name": claim, "id.token.claim": "true", "access.token.claim": "true",
                   "userinfo.token.claim": "true", **config},
    }


def _saml_attribute_mapper(attribute: str, mapper: str, config: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": attribute,
        "protocol": "saml",
        "protocolMapper": mapper,
        "config": {"attribute.name": attribute, "attribute.nameformat": "Basic", "friendly.name": attribute, **config},
    }


@asynccontextmanager
async def keycloak_realm(base_url: str = KEYCLOAK_URL) -> AsyncIterator[KeycloakRealm]:
    """A fresh realm with a unique name until the block ends, then deleted. Users may carry attributes
    the realm's user profile does not declare (custom attributes), as an IdP's directory does."""
    name = f"portico-tests-{secrets.token_hex(4)}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30, auth=AdminToken(base_url, admin_password())) as admin:
        created = await admin.post("/admin/realms", json={"realm": name, "enabled": True})
        if created.status_code != 201:
            raise RuntimeError(f"Keycloak refused to create realm {name}: {created.status_code} {created.text[:300]}")
        profile = (await admin.get(f"/admin/realms/{name}/users/profile")).raise_for_status().json()
        profile["unmanagedAttributePolicy"] = "ENABLED"
        (await admin.put(f"/admin/realms/{name}/users/profile", json=profile)).raise_for_status()
        try:
            yield KeycloakRealm(base_url, name, admin)
        finally:
            await admin.delete(f"/admin/realms/{name}")


@asynccontextmanager
async def running_keycloak() -> AsyncIterator[KeycloakRealm]:
    """Keycloak started if it was not running (and then stopped at the end), with a realm of its own."""
    started_here = await asyncio.to_thread(start_keycloak)
    try:
        async with keycloak_realm() as realm:
            yield realm
    finally:
        if started_here:
            await asyncio.to_thread(stop_keycloak)


def unique(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}"


async def make_user(keycloak: KeycloakRealm) -> KeycloakUser:
    """Ada, in a group of her own, with a custom attribute."""
    group = unique("engineering")
    await keycloak.create_group(group)
    username = unique("ada")
    return await keycloak.create_user(
        username, email=f"{username}@example.com", first_name="Ada", last_name="Lovelace",
        groups=[group], attributes={"department": ["Analytical Engines"]},
    )
