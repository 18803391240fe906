"""An app signs a user in with portico_client against a real Keycloak (authorization_url → IdP → code →
sso.exchange), and reads the organization's attempts back (`GET /api/v1/organizations/{id}/sign_ins`, the
client's sso.sign_ins, `portico sso …`): newest first, filtered, paged, field errors named, never a token or an
attribute."""
import json
import os
import re
import subprocess
import sys

import httpx
import pytest

from portico_client import AsyncPortico, InvalidRequestError
from shared.settings import Settings
from tests.integration.connection_config.sign_in.conftest import APP_CALLBACK, Admin, app_params, oidc_connection
from tests.integration.console import signed_in
from tests.integration.keycloak.admin import KeycloakRealm, KeycloakUser
from tests.integration.keycloak.browser import browser, sign_in
from tests.integration.stack import ROOT


async def client_sign_in(portico: AsyncPortico, connection_id: str, user: KeycloakUser, state: str) -> dict[str, str]:
    """The browser's trip from the client's authorization URL back to the app's callback: its query."""
    url = portico.sso.authorization_url(connection_id=connection_id, redirect_uri=APP_CALLBACK, state=state)
    async with browser() as browsing:
        callback = await sign_in(browsing, url, user.username, user.password)
        assert isinstance(callback, httpx.URL)
        back = await browsing.get(callback)
    assert back.status_code == 303, back.text
    return app_params(back.headers["location"])


async def test_the_client_signs_a_user_in_and_lists_the_attempts(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api_key: str,
) -> None:
    good = await oidc_connection(admin, keycloak)
    bad = await oidc_connection(admin, keycloak)
    await keycloak.regenerate_client_secret((await admin.call("GET", f"/{bad}")).json()["connection"]["oidc"]["client_id"])
    async with AsyncPortico(proxy_url, api_key) as portico:
        params = await client_sign_in(portico, good, user, "state-1")
        assert params["state"] == "state-1"
        profile = await portico.sso.exchange(params["code"])
        assert (profile.email, profile.first_name, profile.connection_id) == (user.email, "Ada", good)
        assert (profile.organization_id, profile.connection_type) == (admin.organization_id, "oidc")
        with pytest.raises(InvalidRequestError) as reused:
            await portico.sso.exchange(params["code"])
        assert reused.value.code == "invalid_grant"
        assert (await client_sign_in(portico, bad, user, "state-2"))["error"] == "token_exchange_failed"

        attempts = [a async for a in portico.sso.sign_ins(admin.organization_id, kind="sign_in", page_size=1)]
        assert [(a.connection_id, a.status) for a in attempts] == [(bad, "failed"), (good, "succeeded")]
        failed, succeeded = attempts
        assert (failed.error_code, failed.fix_in, failed.email, failed.subject) == (
            "token_exchange_failed", "portico", None, None)
        assert (succeeded.email, succeeded.subject, succeeded.error_code) == (user.email, profile.idp_id, None)
        assert succeeded.kind == "sign_in" and succeeded.connection_version >= 1
        assert succeeded.finished_at is not None and succeeded.duration_ms is not None
        only_good = await portico.sso.list_sign_ins(admin.organization_id, connection_id=good, status="succeeded")
        assert [a.id for a in only_good.sign_ins][0] == succeeded.id and only_good.next_cursor is None
        assert [a.kind for a in only_good.sign_ins] == ["sign_in", "test"]
        tests = (await portico.sso.list_sign_ins(admin.organization_id, kind="test")).sign_ins
        assert [(a.connection_id, a.status) for a in tests] == [(bad, "succeeded"), (good, "succeeded")]


async def test_the_list_names_the_parameter_it_cannot_use_and_shows_no_answer_data(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, api: httpx.AsyncClient, proxy_url: str,
) -> None:
    connection_id = await oidc_connection(admin, keycloak)
    path = f"/api/v1/organizations/{admin.organization_id}/sign_ins"
    for name, value in [("kind", "login"), ("status", "done"), ("limit", "0"), ("limit", "²"),
                        ("cursor", "bm90IGEgY3Vyc29y"), ("connection_id", "../x")]:
        refused = await api.get(path, params={name: value})
        assert refused.status_code == 400, (name, refused.text)
        assert refused.json()["error"]["field"] == name
    async with AsyncPortico(proxy_url, str(api.headers["authorization"]).removeprefix("Bearer ")) as portico:
        params = await client_sign_in(portico, connection_id, user, "s")
    listed = await api.get(path)
    assert listed.status_code == 200, listed.text
    attempt, test = listed.json()["sign_ins"]  # the sign-in, then the test that came before Enable
    assert (attempt["kind"], test["kind"]) == ("sign_in", "test")
    assert set(attempt) == {"id", "kind", "status", "connection_id", "connection_version", "organization_id",
                            "subject", "email", "created_at", "finished_at", "duration_ms"}
    assert params["code"] not in listed.text and "Analytical Engines" not in listed.text
    assert (await httpx.AsyncClient(base_url=proxy_url).get(path)).status_code == 401
    assert (await api.get("/api/v1/organizations/not-an-org/sign_ins")).status_code == 404


def cli(api_key: str, proxy_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORTICO_URL": proxy_url, "PORTICO_API_KEY": api_key}
    return subprocess.run([sys.executable, "-m", "portico_cli", *args], capture_output=True, text=True, timeout=60,
                          env=env, cwd=ROOT)


async def test_the_cli_starts_a_sign_in_exchanges_the_code_and_lists_the_attempts(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api_key: str,
) -> None:
    connection_id = await oidc_connection(admin, keycloak)
    started = cli(api_key, proxy_url, "sso", "authorize-url", "--organization", admin.organization_id,
                  "--redirect-uri", APP_CALLBACK, "--state", "cli-state")
    assert started.returncode == 0, started.stderr
    async with browser() as browsing:
        callback = await sign_in(browsing, started.stdout.strip(), user.username, user.password)
        assert isinstance(callback, httpx.URL)
        back = await browsing.get(callback)
    params = app_params(back.headers["location"])
    assert params["state"] == "cli-state"
    # Hex, so never a leading '-' that the CLI's argument parser would take for an option (a base64url code did).
    assert re.fullmatch(r"[0-9a-f]{64}", params["code"]), params["code"]

    exchanged = cli(api_key, proxy_url, "sso", "exchange", params["code"], "--json")
    assert exchanged.returncode == 0, exchanged.stderr
    profile = json.loads(exchanged.stdout)["profile"]
    assert (profile["email"], profile["connection_id"]) == (user.email, connection_id)
    again = cli(api_key, proxy_url, "sso", "exchange", params["code"])
    assert again.returncode == 2 and again.stdout == "" and "Traceback" not in again.stderr
    [line] = again.stderr.splitlines()
    assert line.startswith("portico: ") and "invalid_grant, HTTP 400" in line

    listed = cli(api_key, proxy_url, "--json", "sso", "sign-ins", admin.organization_id, "--connection", connection_id)
    assert listed.returncode == 0, listed.stderr
    attempt, test = json.loads(listed.stdout)["sign_ins"]
    assert (attempt["status"], attempt["email"], attempt["kind"]) == ("succeeded", user.email, "sign_in")
    assert test["kind"] == "test"
    table = cli(api_key, proxy_url, "sso", "sign-ins", admin.organization_id, "--kind", "sign_in").stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "CREATED_AT", "KIND", "STATUS"]
    assert table[1].split()[0] == attempt["id"] and len(table) == 2
    bad = cli(api_key, proxy_url, "sso", "sign-ins", admin.organization_id, "--connection", "nope")
    assert bad.returncode == 2 and "field connection_id" in bad.stderr, bad.stderr


async def test_the_console_shows_an_organizations_recent_sign_ins_to_support_not_to_auditors(
    admin: Admin, keycloak: KeycloakRealm, user: KeycloakUser, proxy_url: str, api_key: str, settings: Settings,
) -> None:
    connection_id = await oidc_connection(admin, keycloak)
    support, auditor = await signed_in(settings, "support"), await signed_in(settings, "auditor")
    try:
        path = f"/console/api/organizations/{admin.organization_id}/sign_ins"
        before = (await support.client.get(path)).json()
        assert [(a["kind"], a["status"]) for a in before["sign_ins"]] == [("test", "succeeded")]  # the one before Enable
        async with AsyncPortico(proxy_url, api_key) as portico:
            await client_sign_in(portico, connection_id, user, "console")
        listed = await support.client.get(path, params={"connection_id": connection_id, "limit": 20})
        assert listed.status_code == 200, listed.text
        attempt, test = listed.json()["sign_ins"]
        assert (attempt["status"], attempt["email"], attempt["connection_id"]) == ("succeeded", user.email, connection_id)
        assert (attempt["kind"], test["kind"]) == ("sign_in", "test")
        refused = await support.client.get(path, params={"kind": "login"})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "kind"
        assert (await auditor.client.get(path)).status_code == 403
        assert (await support.client.get("/console/api/organizations/org_doesnotexist/sign_ins")).status_code == 404
        page = await support.client.get(f"/console/organizations/{admin.organization_id}")
        assert page.status_code == 200 and 'id="sign-ins-table"' in page.text and "No tests or sign-ins yet" in page.text
    finally:
        await support.client.aclose()
        await auditor.client.aclose()
