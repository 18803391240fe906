"""The chaos load: a process of its own that runs a bounded mix of real operations through the proxy
until told to stop, and writes down every answer and the ids of everything the API committed.

    python -m bench.chaos.driver --url http://127.0.0.1:8080 --out ledger.json   (key in PORTICO_CHAOS_API_KEY)

It stops when its stdin closes (or after --max-seconds) and writes the ledger as JSON: one entry per
operation, the audit records each committed operation must produce (bench.chaos.checks.Expectation),
and every magic link with the number of sessions it opened. Only loopback URLs are accepted.
"""
import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.chaos.checks import UNKNOWN, Expectation, Outcome, classify, may_have_committed, operation_outcome
from tests.fixtures.identity_providers import saml_idp
from tests.fixtures.saml_idp import LoopbackSamlIdp
from tests.integration.keycloak.browser import html_forms

REQUEST_TIMEOUT_S = 10.0  # longer than this is a hang, counted unclean
RETRIES = 4  # idempotent operations only, on 503 or a lost answer
RETRY_PAUSE_S = 0.3
FAILURE_PAUSE_S = 0.5
JSON = {"Accept": "application/json"}


@dataclass
class Ledger:
    operations: list[dict[str, object]] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    magic_links: dict[str, str] = field(default_factory=dict)  # link id -> path of its location
    redirects: dict[str, int] = field(default_factory=dict)  # magic link id -> sessions it opened (303s)

    def expect(self, event_type: str, key: str, low: int, high: int) -> None:
        if high:
            self.expectations.append(Expectation(event_type, key, low, high))

    def to_json(self) -> dict[str, object]:
        return {
            "operations": self.operations,
            "expectations": [asdict(e) for e in self.expectations],
            "organizations": self.organizations,
            "magic_links": self.magic_links,
            "redirects": self.redirects,
        }


@dataclass
class Answer:
    """What an operation got in the end, and how many of its attempts may have committed."""

    response: httpx.Response | None
    outcome: Outcome
    committed: int  # attempts answered with a success
    maybe: int  # attempts whose answer was lost or a 5xx


def is_json_error(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and "code" in body["error"]


class Driver:
    def __init__(self, client: httpx.AsyncClient, ledger: Ledger, idp: LoopbackSamlIdp) -> None:
        self.client = client
        self.ledger = ledger
        self.idp = idp  # a loopback SAML IdP in this process: connection tests sign in there

    async def call(
        self, kind: str, method: str, url: str, ok: tuple[int, ...], *, retry: bool = False,
        browser: httpx.AsyncClient | None = None, **kwargs: object,
    ) -> Answer:
        client = browser or self.client
        outcomes: list[Outcome] = []
        statuses: list[int | str] = []
        committed = maybe = 0
        response: httpx.Response | None = None
        for attempt in range(RETRIES + 1 if retry else 1):
            try:
                response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
                status: int | None = response.status_code
                outcomes.append(classify(status, is_json_error(response), ok))
                statuses.append(response.status_code)
            except httpx.TimeoutException:
                response, status = None, None
                outcomes.append("unclean")
                statuses.append("timeout")
            except httpx.TransportError as error:
                response, status = None, None
                outcomes.append("unclean")
                statuses.append(type(error).__name__)
            if outcomes[-1] == "ok":
                committed += 1
                break
            maybe += may_have_committed(status)
            if status is not None and 400 <= status < 500:
                break  # a refusal is an answer; retrying would not change it
            if attempt < RETRIES and retry:
                await asyncio.sleep(RETRY_PAUSE_S)
        outcome = operation_outcome(outcomes)
        self.ledger.operations.append({"kind": kind, "outcome": outcome, "statuses": statuses})
        return Answer(response, outcome, committed, maybe)

    async def create_organization(self, n: int) -> str | None:
        # Not retried: a second POST would be a second organization.
        answer = await self.call("create organization", "POST", "/api/v1/organizations", (201,),
                                 json={"display_name": f"Chaos {n}"})
        if answer.outcome != "ok" or answer.response is None:
            return None
        org_id = str(answer.response.json()["organization"]["id"])
        self.ledger.organizations.append(org_id)
        self.ledger.expect("portico.organization.created", org_id, 1, 1)
        return org_id

    async def issue_link(self, org_id: str, kind: str) -> dict[str, str] | None:
        if kind == "magic":
            answer = await self.call("generate magic link", "PUT", f"/api/v1/organizations/{org_id}/portal_links", (200,))
        else:
            answer = await self.call("create shareable link", "POST", f"/api/v1/organizations/{org_id}/portal_links",
                                     (201,), json={"kind": "shareable", "expires_in_seconds": 3600})
        if answer.outcome != "ok" or answer.response is None:
            # A 503 can come after the link committed (Postgres going away as the connection is released).
            self.ledger.expect("portico.portal_link.issued", UNKNOWN, 0, answer.maybe)
            return None
        link = answer.response.json()["link"]
        self.ledger.expect("portico.portal_link.issued", link["id"], 1, 1)
        path = urlsplit(link["location"]).path
        if kind == "magic":
            self.ledger.magic_links[link["id"]] = path
            self.ledger.redirects[link["id"]] = 0
        return {"id": link["id"], "path": path}

    async def redeem(self, link: dict[str, str], kind: str, browser: httpx.AsyncClient) -> tuple[int, int]:
        """Open the link as a browser would, retried like a reload after a 503: (sessions certainly opened,
        sessions perhaps opened)."""
        answer = await self.call(f"redeem {kind} link", "GET", link["path"], (303,), retry=True, browser=browser,
                                 headers=JSON)
        high = answer.committed + answer.maybe
        if kind == "magic":
            self.ledger.redirects[link["id"]] += answer.committed
            high = min(high, 1)  # the Lua script lets a magic link open once; more shows up as duplicated
        for event_type in ("portico.portal_link.redeemed", "portico.portal_session.started"):
            self.ledger.expect(event_type, link["id"], answer.committed, high)
        return answer.committed, high

    async def reopen_magic_link(self, link: dict[str, str], browser: httpx.AsyncClient) -> None:
        """A used magic link opened again must be refused (410), never a second session."""
        answer = await self.call("reopen used magic link", "GET", link["path"], (410,), retry=True, browser=browser,
                                 headers=JSON)
        if answer.response is not None and answer.response.status_code == 303:
            self.ledger.redirects[link["id"]] += 1

    async def edit_connection(self, org_id: str, browser: httpx.AsyncClient) -> None:
        """Create, update, test and enable a SAML connection through the portal API, then view it by the management
        API. Enable needs the test to have succeeded: after a test cut by a fault it is refused (409, clean)."""
        session = await self.call("read portal session", "GET", "/portal/api/session", (200,), retry=True, browser=browser)
        if session.outcome != "ok" or session.response is None:
            return
        csrf = {"X-CSRF-Token": session.response.json()["session"]["csrf_token"]}
        body = {"type": "saml", "provider": "okta", "saml": {"metadata_xml": self.idp.metadata()}}
        created = await self.call("create connection", "POST", "/portal/api/connections", (201,), browser=browser,
                                  json=body, headers=csrf)
        if created.outcome != "ok" or created.response is None:
            return
        connection = created.response.json()["connection"]
        self.ledger.expect("portico.connection.created", connection["id"], 1, 1)
        version = int(connection["version"])
        # If-Match makes a retried change idempotent: a second copy finds the version moved and gets 412.
        for kind, event_type, method, path, json_body in (
            ("update connection", "portico.connection.updated", "PATCH", "",
             {"saml": {"attribute_mapping": {"groups": "memberOf"}}}),
            ("enable connection", "portico.connection.enabled", "POST", "/enable", None),
        ):
            if kind == "enable connection":
                await self.test_connection(connection["id"], browser, csrf)
            answer = await self.call(kind, method, f"/portal/api/connections/{connection['id']}{path}", (200,), retry=True,
                                     browser=browser, json=json_body, headers={**csrf, "If-Match": f'"{version}"'})
            self.ledger.expect(event_type, connection["id"], min(answer.committed, 1), min(answer.committed + answer.maybe, 1))
            if answer.outcome != "ok" or answer.response is None:
                return
            version = int(answer.response.json()["connection"]["version"])
        viewed = await self.call("list connections (management API)", "GET", f"/api/v1/organizations/{org_id}/connections",
                                 (200,), retry=True)
        self.ledger.expect("portico.connection.viewed", org_id, viewed.committed, viewed.committed + viewed.maybe)

    async def test_connection(self, connection_id: str, browser: httpx.AsyncClient, csrf: dict[str, str]) -> None:
        """The portal's test step: start a test, open it (Portico sends the browser to the IdP), sign in at the
        loopback IdP and post its answer to Portico's ACS, which sends the browser to the result page."""
        started = await self.call("start connection test", "POST", f"/portal/api/connections/{connection_id}/tests",
                                  (201,), retry=True, browser=browser, headers=csrf)
        tests = started.committed + started.maybe
        # Each test ends in one event at most (none while it waits at the IdP); each answer posted again after
        # a lost one is a failed attempt of its own (assertion_replayed), recorded too.
        self.ledger.expect("portico.connection.test_succeeded", connection_id, 0, tests)
        if started.outcome != "ok" or started.response is None:
            self.ledger.expect("portico.connection.test_failed", connection_id, 0, tests)
            return
        opened = await self.call("open connection test", "GET", started.response.json()["test"]["location"],
                                 (302, 303, 307), retry=True, browser=browser)
        if opened.outcome != "ok" or opened.response is None:
            self.ledger.expect("portico.connection.test_failed", connection_id, 0, tests)
            return
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as idp_browser:
            page = await idp_browser.get(opened.response.headers["location"])
        [form] = [form for form in html_forms(page.text) if "SAMLResponse" in form.fields]
        # A retried answer after a lost one finds the test over; Portico still sends the browser to its result.
        posted = await self.call("post connection test answer", "POST", form.action, (303,), retry=True,
                                 browser=browser, data=form.fields)
        self.ledger.expect("portico.connection.test_failed", connection_id, 0, tests + posted.committed + posted.maybe)

    async def revoke(self, org_id: str, link: dict[str, str], sessions: tuple[int, int]) -> None:
        answer = await self.call("revoke shareable link", "DELETE", f"/api/v1/organizations/{org_id}/portal_links/{link['id']}",
                                 (204,), retry=True)
        low, high = min(answer.committed, 1), min(answer.committed + answer.maybe, 1)
        self.ledger.expect("portico.portal_link.revoked", link["id"], low, high)
        # Revocation ends every session the link opened, one `session.ended` each (by portal-session).
        self.ledger.expect("portico.portal_session.ended", link["id"], sessions[0] * low, sessions[1] * high)

    async def flow(self, n: int, base_url: str) -> None:
        """One organization: a magic link opened (twice: the second must be refused), then every other
        time a shareable link with a connection created, updated, enabled and viewed, and the link revoked."""
        org_id = await self.create_organization(n)
        if org_id is None:
            return
        async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as browser:
            link = await self.issue_link(org_id, "magic")
            if link is not None and (await self.redeem(link, "magic", browser))[0]:
                await self.reopen_magic_link(link, browser)
        if n % 2:
            return
        async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as browser:
            link = await self.issue_link(org_id, "shareable")
            if link is None:
                return
            sessions = await self.redeem(link, "shareable", browser)
            if sessions[0]:
                await self.edit_connection(org_id, browser)
            await self.revoke(org_id, link, sessions)


async def run(base_url: str, api_key: str, workers: int, max_seconds: float, stop: asyncio.Event) -> Ledger:
    ledger = Ledger()
    deadline = time.monotonic() + max_seconds
    counter = iter(range(10**9))
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S,
                                 headers={"Authorization": f"Bearer {api_key}"}) as client:
        with saml_idp() as idp:
            driver = Driver(client, ledger, idp)

            async def worker() -> None:
                while not stop.is_set() and time.monotonic() < deadline:
                    done = len(ledger.operations)
                    await driver.flow(next(counter), base_url)
                    if any(op["outcome"] != "ok" for op in ledger.operations[done:]):
                        await asyncio.sleep(FAILURE_PAUSE_S)  # like a client backing off, not a hot loop

            await asyncio.gather(*(worker() for _ in range(workers)))
    return ledger


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=300)
    args = parser.parse_args()
    if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the chaos driver only targets loopback")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_stdin() -> None:
        await reader.read()  # returns when the runner closes our stdin
        stop.set()

    watcher = asyncio.create_task(watch_stdin())
    print("driving", flush=True)
    ledger = await run(args.url, os.environ["PORTICO_CHAOS_API_KEY"], args.workers, args.max_seconds, stop)
    watcher.cancel()
    args.out.write_text(json.dumps(ledger.to_json()))


if __name__ == "__main__":
    asyncio.run(main())
