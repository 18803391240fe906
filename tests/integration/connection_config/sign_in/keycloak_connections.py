"""An organization signing in through Keycloak, set up as an IT admin does in the portal: connection-config
restarted with the app's callback in PORTICO_SSO_REDIRECT_URIS and Keycloak's loopback address in
PORTICO_OUTBOUND_ALLOW_HOSTS, then SAML and OIDC connections configured both ways (Portico from Keycloak's
metadata and discovery, Keycloak from Portico's SP metadata and redirect URI). Used by the sign-in tests'
fixtures and by bench/sso.py."""
import os
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import httpx

from tests.factories import create_organization, magic_link
from tests.integration.keycloak.admin import KeycloakRealm, KeycloakUser, make_user, unique
from tests.integration.keycloak.browser import SamlPost, browser, sign_in
from tests.integration.keycloak.server import KEYCLOAK_URL
from tests.integration.stack import connection_config_with

# The app's callback: never reached (port 9), the tests read the redirect Portico answers with.
APP_CALLBACK = "http://127.0.0.1:9/app/sso/callback"


@contextmanager
def sign_in_environment(proxy_url: str) -> Iterator[None]:
    """connection-config with the app's callback and Keycloak allowed; restored as it was afterwards."""
    keycloak_host = urlsplit(KEYCLOAK_URL).netloc
    allowed = ",".join(filter(None, (os.environ.get("PORTICO_OUTBOUND_ALLOW_HOSTS"), keycloak_host)))
    with connection_config_with(proxy_url, PORTICO_SSO_REDIRECT_URIS=APP_CALLBACK, PORTICO_OUTBOUND_ALLOW_HOSTS=allowed):
        yield


@dataclass
class Admin:
    """An IT admin in the portal of one organization."""

    organization_id: str
    browser: httpx.AsyncClient
    csrf: str

    async def call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return await self.browser.request(method, f"/portal/api/connections{path}", headers=headers, **kwargs)  # type: ignore[arg-type]

    async def create(self, body: dict[str, object]) -> dict[str, object]:
        created = await self.call("POST", "", json=body)
        assert created.status_code == 201, created.text
        return dict(created.json()["connection"])

    async def enable(self, connection_id: str) -> None:
        enabled = await self.call("POST", f"/{connection_id}/enable")
        assert enabled.status_code == 200, enabled.text

    async def test_at_keycloak(self, connection_id: str, user: KeycloakUser) -> dict[str, object]:
        """A portal connection test: the admin signs in at Keycloak as `user`; the finished test."""
        started = await self.call("POST", f"/{connection_id}/tests")
        assert started.status_code == 201, started.text
        test = started.json()["test"]
        async with browser() as browsing:
            answer = await sign_in(browsing, test["location"], user.username, user.password)
            if isinstance(answer, SamlPost):
                await browsing.post(answer.acs_url, data=answer.form())
            else:
                await browsing.get(answer)
        result = await self.call("GET", f"/{connection_id}/tests/{test['id']}")
        assert result.status_code == 200, result.text
        return dict(result.json()["test"])

    async def tested_and_enabled(self, connection_id: str, keycloak: KeycloakRealm, user: KeycloakUser | None = None) -> None:
        """A passing test of the connection's current details, then Enable, as the portal offers it."""
        test = await self.test_at_keycloak(connection_id, user or await make_user(keycloak))
        assert test["status"] == "succeeded", f"the connection test of {connection_id} failed: {test.get('error')}"
        await self.enable(connection_id)


@asynccontextmanager
async def portal_admin(api: httpx.AsyncClient, proxy_url: str) -> AsyncIterator[Admin]:
    """A new organization, and its IT admin signed in to the portal through a magic link."""
    organization_id = await create_organization(api, f"Sign-in Co {secrets.token_hex(3)}")
    link = await magic_link(api, organization_id)
    async with httpx.AsyncClient(base_url=proxy_url, timeout=30) as browser:
        assert (await browser.get(urlsplit(link["location"]).path)).status_code == 303
        csrf = (await browser.get("/portal/api/session")).json()["session"]["csrf_token"]
        yield Admin(organization_id, browser, csrf)


async def saml_connection(
    admin: Admin, keycloak: KeycloakRealm, proxy_url: str, *, enable: bool = True,
    keycloak_attributes: Mapping[str, str] | None = None,
) -> str:
    """Portico from Keycloak's realm metadata; Keycloak's client from Portico's SP metadata (with these client
    attributes, e.g. `saml.assertion.lifespan`)."""
    connection = await admin.create({"type": "saml", "provider": "keycloak",
                                     "saml": {"metadata_xml": await keycloak.saml_metadata()}})
    connection_id = str(connection["id"])
    async with httpx.AsyncClient(timeout=10) as http:
        metadata = await http.get(f"{proxy_url}/sso/saml/{connection_id}/metadata")
    assert metadata.status_code == 200, metadata.text
    await keycloak.create_saml_client_from_metadata(metadata.text, attributes_from_user=["department"],
                                                    attributes=keycloak_attributes)
    if enable:
        await admin.tested_and_enabled(connection_id, keycloak)
    return connection_id


async def oidc_connection(
    admin: Admin, keycloak: KeycloakRealm, *, client_secret: str | None = None, enable: bool = True
) -> str:
    """Portico from Keycloak's issuer (discovery); Keycloak's client from Portico's redirect URI."""
    connection = await admin.create({"type": "oidc", "provider": "keycloak", "oidc": {"issuer": keycloak.issuer}})
    connection_id = str(connection["id"])
    redirect_uri = connection["sp"]["redirect_uri"]  # type: ignore[index]
    client = await keycloak.create_oidc_client(unique("portico"), [redirect_uri], claims_from_attributes=["department"])
    patched = await admin.call("PATCH", f"/{connection_id}", headers={"If-Match": str(connection["version"])}, json={
        "oidc": {"client_id": client.client_id, "client_secret": client_secret or client.secret}})
    assert patched.status_code == 200, patched.text
    if enable:
        await admin.tested_and_enabled(connection_id, keycloak)
    return connection_id


def authorize_url(proxy_url: str, **params: str) -> str:
    return f"{proxy_url}/sso/v1/authorize?{urlencode({'redirect_uri': APP_CALLBACK, **params})}"


def app_params(location: str) -> dict[str, str]:
    """The query of Portico's redirect to the app's callback (asserting it is that callback)."""
    url = httpx.URL(location)
    assert str(url.copy_with(query=None)) == APP_CALLBACK, location
    return dict(url.params)
