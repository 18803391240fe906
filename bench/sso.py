"""SSO sign-in benchmark: authorize → Keycloak → code → profile through Portico, beside the same login at Keycloak alone.

Run against a running stack (`make up`): `python -m bench.sso [--rounds N] [--quick]` (`make bench` runs it
with the others). Keycloak is started through deploy/local/keycloak.sh unless it is running (and then stopped
at the end); connection-config is restarted with the bench app's callback and Keycloak allowed, as the
sign-in tests do, and restored afterwards. httpx is the browser, one sign-in at a time, on loopback.

Each round signs a new browser in through Portico and times every leg: Portico's (authorize redirect, the
SAML ACS or the OIDC callback, the app's token exchange) and Keycloak's as the browser sees them (login page,
credential post). The OIDC callback includes Portico's call to Keycloak's token endpoint. The baseline, in
the same rounds, is the same login at Keycloak alone with no Portico: its login page and credential post,
plus its token endpoint for OIDC (the harness's direct code flow and SAML login).
"""
import argparse
import asyncio
import base64
import hashlib
import math
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from bench.stats import percentile, print_table, write_results
from bench.summary import Figure, latency_ms
from link_issuer.accounts.admin import create_api_key
from shared.settings import Settings
from tests.integration.connection_config.sign_in.keycloak_connections import (
    Admin,
    app_params,
    authorize_url,
    oidc_connection,
    portal_admin,
    saml_connection,
    sign_in_environment,
)
from tests.integration.keycloak.admin import KeycloakRealm, KeycloakUser, keycloak_realm, make_user, unique
from tests.integration.keycloak.browser import SamlPost, browser, html_forms
from tests.integration.keycloak.server import KEYCLOAK_URL, start_keycloak, stop_keycloak
from tests.integration.keycloak.test_harness import saml_redirect_url
from tests.integration.stack import is_ours

PORTICO, KEYCLOAK = "Portico", "Keycloak"
ROUNDS, QUICK_ROUNDS, WARM_UP, MAX_FAILURES = 50, 10, 5, 5
PROTOCOLS = ("SAML", "OIDC")
P50_P95 = (50, 95)
ALONE = "http://127.0.0.1:9/bench"  # the Keycloak-alone flow's SP: never reached, the browser stops leaving Keycloak


class SignInBroken(RuntimeError):
    """A round did not end where a working sign-in ends (a code, a profile)."""


@dataclass(frozen=True)
class Leg:
    name: str
    side: str  # PORTICO or KEYCLOAK
    seconds: float


@dataclass
class Round:
    """One sign-in, leg by leg in the order they ran."""

    legs: list[Leg] = field(default_factory=list)

    def side(self, side: str) -> float:
        return sum(leg.seconds for leg in self.legs if leg.side == side)

    @property
    def total(self) -> float:
        return sum(leg.seconds for leg in self.legs)

    async def timed(self, name: str, side: str, call: Awaitable[httpx.Response]) -> httpx.Response:
        start = time.perf_counter()
        response = await call
        self.legs.append(Leg(name, side, time.perf_counter() - start))
        return response


@dataclass
class ProtocolRun:
    protocol: str
    through_portico: list[Round] = field(default_factory=list)
    keycloak_alone: list[Round] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # rounds that did not end with a profile, by why

    def totals(self) -> tuple[list[float], list[float]]:
        return [r.total for r in self.through_portico], [r.total for r in self.keycloak_alone]

    def portico(self) -> list[float]:
        return [r.side(PORTICO) for r in self.through_portico]


@dataclass
class SsoRun:
    protocols: list[ProtocolRun]
    not_measured: str = ""  # why, when Keycloak or the stack could not be used


def leg_samples(rounds: list[Round]) -> dict[tuple[str, str], list[float]]:
    """Each leg's durations across rounds, keyed by (name, side), in the order the legs ran."""
    samples: dict[tuple[str, str], list[float]] = {}
    for sign_in_round in rounds:
        for leg in sign_in_round.legs:
            samples.setdefault((leg.name, leg.side), []).append(leg.seconds)
    return samples


def _expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        raise SignInBroken(f"{what}: {response.status_code} (expected {status}) {response.text[:200]}")
    return response


async def _keycloak_login(sign_in_round: Round, browsing: httpx.AsyncClient, url: str, user: KeycloakUser) -> httpx.Response:
    """Keycloak's login page, then the credential post: what it answers (a redirect out of Keycloak, or the
    SAML auto-POST form)."""
    page = await sign_in_round.timed("login page", KEYCLOAK, browsing.get(url))
    login = next((form for form in html_forms(_expect(page, 200, "login page").text) if "username" in form.fields), None)
    if login is None:
        raise SignInBroken(f"no login form at {page.url}")
    return await sign_in_round.timed("credentials", KEYCLOAK, browsing.post(
        login.action, data=login.fields | {"username": user.username, "password": user.password}))


def _saml_post(answer: httpx.Response) -> SamlPost:
    form = next((form for form in html_forms(_expect(answer, 200, "credential post").text) if "SAMLResponse" in form.fields), None)
    if form is None:
        raise SignInBroken("Keycloak did not answer with a SAML response")
    return SamlPost(form.action, form.fields["SAMLResponse"], form.fields.get("RelayState"))


async def through_portico(browsing: httpx.AsyncClient, api: httpx.AsyncClient, start_url: str, user: KeycloakUser) -> Round:
    """authorize → Keycloak's login → ACS or callback → the app's code → the profile, each leg timed."""
    sign_in_round = Round()
    browsing.cookies.clear()
    authorized = _expect(await sign_in_round.timed("authorize", PORTICO, browsing.get(start_url)), 303, "authorize")
    answer = await _keycloak_login(sign_in_round, browsing, authorized.headers["location"], user)
    if answer.is_redirect:
        back = await sign_in_round.timed("OIDC callback (with Keycloak's token endpoint)", PORTICO,
                                         browsing.get(answer.headers["location"]))
    else:
        posted = _saml_post(answer)
        back = await sign_in_round.timed("SAML ACS", PORTICO, browsing.post(
            posted.acs_url, data=posted.form()))
    params = app_params(_expect(back, 303, "ACS or callback").headers["location"])
    if "code" not in params:
        raise SignInBroken(f"no code for the app: {params}")
    exchanged = await sign_in_round.timed("token exchange", PORTICO, api.post("/api/v1/sso/token", json={"code": params["code"]}))
    _expect(exchanged, 200, "token exchange")
    return sign_in_round


@dataclass(frozen=True)
class AloneOidc:
    """The harness's direct OIDC code flow with PKCE: a client of its own, no Portico."""

    client_id: str
    secret: str
    authorization_endpoint: str
    token_endpoint: str
    redirect_uri: str = f"{ALONE}/oidc/callback"


async def alone_oidc(browsing: httpx.AsyncClient, http: httpx.AsyncClient, flow: AloneOidc, user: KeycloakUser) -> Round:
    sign_in_round = Round()
    browsing.cookies.clear()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = f"{flow.authorization_endpoint}?" + urlencode({
        "response_type": "code", "client_id": flow.client_id, "redirect_uri": flow.redirect_uri,
        "scope": "openid email profile", "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    answer = _expect(await _keycloak_login(sign_in_round, browsing, url, user), 302, "credential post")
    code = httpx.URL(answer.headers["location"]).params.get("code")
    if code is None:
        raise SignInBroken(f"Keycloak gave no code: {answer.headers['location']}")
    tokens = await sign_in_round.timed("token endpoint", KEYCLOAK, http.post(
        flow.token_endpoint, auth=(flow.client_id, flow.secret),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri, "code_verifier": verifier}))
    _expect(tokens, 200, "Keycloak's token endpoint")
    return sign_in_round


async def alone_saml(browsing: httpx.AsyncClient, keycloak: KeycloakRealm, entity_id: str, user: KeycloakUser) -> Round:
    sign_in_round = Round()
    browsing.cookies.clear()
    url = saml_redirect_url(keycloak, entity_id, f"{ALONE}/saml/acs", f"_{secrets.token_hex(16)}", secrets.token_urlsafe(16))
    _saml_post(await _keycloak_login(sign_in_round, browsing, url, user))
    return sign_in_round


async def connections_answer(admin: Admin, tries: int = 20) -> None:
    """Wait out the portal's first calls after connection-config's restart (a pooled connection it closed)."""
    for _ in range(tries):
        if (await admin.call("GET", "")).status_code == 200:
            return
        await asyncio.sleep(0.5)
    raise SignInBroken("the portal's connections did not answer after connection-config restarted")


async def measure(settings: Settings, keycloak: KeycloakRealm, rounds: int) -> list[ProtocolRun]:
    proxy_url = settings.public_url
    _, key = await create_api_key(settings, "bench-sso")
    user = await make_user(keycloak)
    async with (
        httpx.AsyncClient(base_url=proxy_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as api,
        httpx.AsyncClient(timeout=30) as http,
        portal_admin(api, proxy_url) as saml_admin,
        portal_admin(api, proxy_url) as oidc_admin,
        browser() as browsing,
    ):
        await connections_answer(saml_admin)
        await connections_answer(oidc_admin)
        await saml_admin.tested_and_enabled(await saml_connection(saml_admin, keycloak, proxy_url, enable=False), keycloak, user)
        await oidc_admin.tested_and_enabled(await oidc_connection(oidc_admin, keycloak, enable=False), keycloak, user)
        saml_entity_id = (await keycloak.create_saml_client(f"{ALONE}/saml/{unique('sp')}", f"{ALONE}/saml/acs")).client_id
        discovery = (await http.get(keycloak.oidc_discovery_url)).raise_for_status().json()
        client = await keycloak.create_oidc_client(unique("bench"), [f"{ALONE}/oidc/callback"])
        oidc = AloneOidc(client.client_id, client.secret or "", discovery["authorization_endpoint"], discovery["token_endpoint"])

        flows: dict[str, tuple[Callable[[], Awaitable[Round]], Callable[[], Awaitable[Round]]]] = {
            "SAML": (lambda: through_portico(browsing, api, authorize_url(proxy_url, organization_id=saml_admin.organization_id,
                                                                            state=secrets.token_urlsafe(8)), user),
                     lambda: alone_saml(browsing, keycloak, saml_entity_id, user)),
            "OIDC": (lambda: through_portico(browsing, api, authorize_url(proxy_url, organization_id=oidc_admin.organization_id,
                                                                            state=secrets.token_urlsafe(8)), user),
                     lambda: alone_oidc(browsing, http, oidc, user)),
        }
        runs = {protocol: ProtocolRun(protocol) for protocol in PROTOCOLS}
        for i in range(WARM_UP + rounds):  # interleaved, so drift in the machine's load hits both sides alike
            for protocol, (portico_flow, alone_flow) in flows.items():
                try:
                    portico_round, alone_round = await portico_flow(), await alone_flow()
                except (SignInBroken, httpx.HTTPError) as error:  # e.g. a service restarted meanwhile: counted, not timed
                    runs[protocol].failures[f"{type(error).__name__}: {str(error)[:80]}"] += 1
                    if sum(run_.failures.total() for run_ in runs.values()) > max(MAX_FAILURES, rounds // 2):
                        raise SignInBroken(f"too many failed sign-ins: {dict(runs[protocol].failures)}") from error
                    await asyncio.sleep(1)
                    continue
                if i >= WARM_UP:
                    runs[protocol].through_portico.append(portico_round)
                    runs[protocol].keycloak_alone.append(alone_round)
    return list(runs.values())


async def run(settings: Settings, rounds: int) -> SsoRun:
    """The bench, or why it could not run (no Java 21+ for Keycloak, a stack not started by deploy/local);
    a sign-in that breaks off raises."""
    if not is_ours("connection-config"):
        return SsoRun([], "connection-config was not started by deploy/local, so it cannot be restarted with the bench's callback")
    try:
        started_here = await asyncio.to_thread(start_keycloak)
    except Exception as error:  # KeycloakUnavailable, or the script timing out
        return SsoRun([], f"Keycloak did not start: {error}")
    try:
        with sign_in_environment(settings.public_url):
            async with keycloak_realm(KEYCLOAK_URL) as keycloak:
                return SsoRun(await measure(settings, keycloak, rounds))
    finally:
        if started_here:
            await asyncio.to_thread(stop_keycloak)


def summary_figures(result: SsoRun) -> list[Figure]:
    """`make bench`'s rows: each protocol's sign-in through Portico beside Keycloak alone, p50/p95, with
    Portico's own legs in the name; both marked not measured (n/a) when the bench could not run."""
    if result.not_measured:
        reason = result.not_measured.splitlines()[0][:120]
        return [Figure(f"SSO {protocol} sign-in through Portico: not measured ({reason})", (math.nan, math.nan), "ms",
                       "Keycloak alone", (math.nan, math.nan)) for protocol in PROTOCOLS]
    figures = []
    for run_ in result.protocols:
        through, alone = run_.totals()
        added = " / ".join(f"{ms:.0f}" for ms in latency_ms(run_.portico(), P50_P95))
        figures.append(Figure(f"SSO {run_.protocol} sign-in, authorize→code→profile, p50/p95 (Portico's legs {added} ms)",
                              latency_ms(through, P50_P95), "ms", "Keycloak alone", latency_ms(alone, P50_P95)))
    return figures


def _row(measure: str, side: str, samples: list[float]) -> dict[str, object]:
    return {"measure": measure, "side": side, "n": len(samples),
            "p50 ms": percentile(samples, 50) * 1000, "p95 ms": percentile(samples, 95) * 1000}


def report(result: SsoRun) -> list[dict[str, object]]:
    """Print this benchmark's table; return its rows."""
    if result.not_measured:
        print(f"\nSSO sign-in: not measured: {result.not_measured}")
        return []
    rows: list[dict[str, object]] = []
    for run_ in result.protocols:
        through, alone = run_.totals()
        rows.append(_row(f"{run_.protocol}: authorize → code → profile through Portico", "both", through))
        rows += [_row(f"  {name}", side, samples) for (name, side), samples in leg_samples(run_.through_portico).items()]
        rows.append(_row("  Portico's legs (the time it adds)", PORTICO, run_.portico()))
        rows.append(_row("  Keycloak's legs", KEYCLOAK, [r.side(KEYCLOAK) for r in run_.through_portico]))
        rows.append(_row(f"{run_.protocol}: the same login at Keycloak alone (baseline)", KEYCLOAK, alone))
        rows += [_row(f"  {name}", side, samples) for (name, side), samples in leg_samples(run_.keycloak_alone).items()]
        ratio = percentile(through, 50) / percentile(alone, 50) if alone else math.nan
        rows.append({"measure": f"{run_.protocol}: through Portico / Keycloak alone, p50", "side": "", "n": len(through),
                     "p50 ms": f"{ratio:.2f}x", "p95 ms": ""})
    print_table("SSO sign-in through Portico against Keycloak (one browser at a time)", rows)
    for run_ in result.protocols:
        reasons = "".join(f"; {reason} ×{count}" for reason, count in run_.failures.most_common())
        print(f"{run_.protocol} sign-ins that failed (not timed): {run_.failures.total()}{reasons}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="measured sign-ins per protocol and side")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_ROUNDS} rounds")
    args = parser.parse_args()
    result = asyncio.run(run(Settings(), QUICK_ROUNDS if args.quick else args.rounds))
    rows = report(result)
    if result.not_measured:
        raise SystemExit(1)
    print(f"\nresults: {write_results('sso', rows)}")


if __name__ == "__main__":
    main()
