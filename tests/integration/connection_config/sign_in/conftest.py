"""Sign-in against a real Keycloak: connection-config restarted (for this package only) with the test app's
callback in PORTICO_SSO_REDIRECT_URIS and Keycloak's loopback address in PORTICO_OUTBOUND_ALLOW_HOSTS, then
organizations with SAML and OIDC connections configured both ways (Portico from Keycloak's metadata and
discovery, Keycloak from Portico's SP metadata and redirect URI), as an IT admin does in the portal. The
setup itself is in keycloak_connections.py (bench/sso.py uses it too)."""
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.integration.connection_config.sign_in.keycloak_connections import (
    APP_CALLBACK,
    Admin,
    app_params,
    authorize_url,
    oidc_connection,
    portal_admin,
    saml_connection,
    sign_in_environment,
)
from tests.integration.keycloak.admin import KeycloakRealm, KeycloakUser, make_user, unique
from tests.integration.stack import Stack, is_ours

__all__ = ["APP_CALLBACK", "Admin", "app_params", "authorize_url", "oidc_connection", "saml_connection", "unique"]


@pytest.fixture(scope="package")
def sign_in_service(stack: Stack, proxy_url: str) -> Iterator[None]:
    """connection-config with the test app's callback and Keycloak allowed; restored as it was afterwards."""
    if not is_ours("connection-config"):
        pytest.skip("connection-config was not started by deploy/local, so it cannot be restarted here")
    with sign_in_environment(proxy_url):
        yield


@pytest.fixture
async def admin(sign_in_service: None, api: httpx.AsyncClient, proxy_url: str) -> AsyncIterator[Admin]:
    async with portal_admin(api, proxy_url) as admin:
        yield admin


@pytest.fixture
async def user(keycloak: KeycloakRealm) -> KeycloakUser:
    return await make_user(keycloak)
