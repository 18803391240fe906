"""The console is a process of its own: its app serves /console and nothing of the management API, and
link-issuer's app no longer serves /console. Asked without starting either (no lifespan, no servers)."""
import secrets

import httpx
from fastapi import FastAPI

from link_issuer.app import create_app as link_issuer_app
from link_issuer.console.app import create_app as console_app
from shared.settings import SERVICE_SECRETS, Settings

THROWAWAY = secrets.token_hex(32)
SETTINGS = Settings(internal_token=THROWAWAY, link_signing_key=THROWAWAY)


async def status(app: FastAPI, method: str, path: str) -> int:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.request(method, path)).status_code


async def test_the_console_app_serves_the_console_and_not_the_management_api():
    app = console_app(SETTINGS)
    assert await status(app, "GET", "/console/sign-in") == 200
    assert await status(app, "GET", "/console/api/session") == 401  # a route: nobody is signed in
    assert await status(app, "GET", "/api/v1/organizations") == 404
    assert await status(app, "GET", "/internal/auth/api-key") == 404


async def test_link_issuer_no_longer_serves_the_console():
    app = link_issuer_app(SETTINGS)
    assert await status(app, "GET", "/console/sign-in") == 404
    assert await status(app, "GET", "/console/api/session") == 404


def test_the_console_needs_the_secrets_link_issuer_needs():
    assert SERVICE_SECRETS["console"] == SERVICE_SECRETS["link-issuer"]
