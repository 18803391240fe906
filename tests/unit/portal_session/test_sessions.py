"""PortalSessions without HTTP, Redis or link-issuer: redemption (once for a magic link, throttled guesses),
finishing setup, and revocation ending sessions. The store fake keeps the redemption script's rules."""
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portal_session.domain import derived_event_id
from portal_session.redemption import Verdict
from portal_session.sessions import Gone, PortalSessions, Redeemed, Revoked, SetupFinished, Throttled
from portal_session.store import LiveSession, session_key
from portico_events import Actor, CloudEvent, PortalLinkRevoked
from shared.errors import Unauthenticated
from shared.link_tokens import LinkClaims, LinkKind, issue_link_token, token_sha256
from shared.settings import Settings

KEY = "ab" * 32
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OFFICE = "203.0.113.9"
BROWSER = "Mozilla/5.0 (X11; Linux)"


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


class Relay:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


@dataclass
class LinkIssuer:
    """link-issuer's truth: a live magic link is used by the first `ok`."""

    links: dict[str, str] = field(default_factory=dict)  # link id -> ok|used|revoked|expired (absent: invalid)
    asked: list[tuple[str, Actor]] = field(default_factory=list)

    async def redeem(self, link_id: str, token_digest: str, actor: Actor) -> Verdict:
        self.asked.append((link_id, actor))
        outcome = self.links.get(link_id, "invalid")
        if outcome == "ok" and link_id.startswith("lnk_magic"):
            self.links[link_id] = "used"
        return Verdict(outcome, "https://app.example/back", "https://app.example/done")


class PortalStore:
    """The narrow interface PortalSessions uses, in memory, deciding as store.py's Lua scripts do (time from
    the test's clock instead of Redis's TIME)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.links: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}  # session key -> fields
        self.link_sessions: dict[str, set[str]] = {}
        self.outbox: list[bytes] = []
        self.failures: dict[str, int] = {}

    def now(self) -> float:
        return self.clock.now().timestamp()

    async def apply_link_issued(self, link_id: str, org: str, kind: str, expire: float, token_sha256: str) -> None:
        self.links[link_id] = {"state": "live", "org": org, "kind": kind, "expire": expire, "token": token_sha256,
                               "return_url": "", "success_url": "https://app.example/done"}

    async def redeem(self, *, link_id: str, org: str, kind: str, expire: float, token_sha256: str, cookie_sha256: str,
                     session_id: str, csrf_token: str, idle_s: int, max_s: int, events: tuple[bytes, bytes],
                     vouched: tuple[str, str] | None) -> tuple[str, float | None]:
        link = self.links.get(link_id)
        if link is None:
            if vouched is None:
                return "unknown", None
            if expire <= self.now():
                return "expired", None
            link = self.links[link_id] = {"state": "live", "org": org, "kind": kind, "expire": expire,
                                          "token": token_sha256, "return_url": vouched[0], "success_url": vouched[1]}
        if link.get("token") and link["token"] != token_sha256:
            return "invalid", None
        if link["state"] == "revoked":
            return "revoked", None
        if link["state"] == "used" and not (vouched and kind == "magic"):
            return "used", None
        if link.get("expire", expire) <= self.now():
            return "expired", None
        if kind == "magic":
            if vouched is None:
                return "unknown", None
            link["state"] = "used"
        ends = self.now() + max_s
        if kind == "shareable":
            ends = min(ends, link["expire"])
        key = session_key(cookie_sha256)
        self.sessions[key] = {"id": session_id, "org": org, "link_id": link_id, "kind": kind, "csrf": csrf_token,
                              "ends": ends}
        self.link_sessions.setdefault(link_id, set()).add(key)
        self.outbox.extend(events)
        return "ok", ends

    async def remember_refused(self, link_id: str, state: str, org: str, kind: str, expire: float, token_sha256: str) -> None:
        if self.links.get(link_id, {}).get("state") != "revoked":
            self.links[link_id] = {"state": state, "org": org, "kind": kind, "expire": expire, "token": token_sha256}

    async def touch_session(self, cookie_sha256: str, idle_s: int) -> LiveSession | str:
        session = self.sessions.get(session_key(cookie_sha256))
        if session is None:
            return "none"
        if self.links.get(session["link_id"], {}).get("state") == "revoked":
            return "revoked"
        if session["ends"] <= self.now():
            del self.sessions[session_key(cookie_sha256)]
            return "expired"
        return LiveSession(session["id"], session["org"], session["link_id"], session["kind"], session["csrf"],
                           session["ends"])

    async def end_session(self, session_key_name: str, ended_event: bytes) -> bool:
        if self.sessions.pop(session_key_name, None) is None:
            return False
        self.outbox.append(ended_event)
        return True

    async def apply_link_revoked(self, link_id: str, org: str) -> None:
        self.links.setdefault(link_id, {"org": org})["state"] = "revoked"

    async def sessions_of_link(self, link_id: str) -> list[tuple[str, str | None]]:
        keys = sorted(self.link_sessions.get(link_id, set()))
        return [(key, self.sessions[key]["id"] if key in self.sessions else None) for key in keys]

    async def forget_session_of_link(self, link_id: str, session_key_name: str) -> None:
        self.link_sessions.get(link_id, set()).discard(session_key_name)

    async def link_urls(self, link_id: str) -> tuple[str | None, str | None]:
        link = self.links.get(link_id, {})
        return link.get("return_url") or None, link.get("success_url") or None

    async def redemption_failures(self, client_address: str) -> int:
        return self.failures.get(client_address, 0)

    async def failure_window_left(self, client_address: str) -> int:
        return 42

    async def count_redemption_failure(self, client_address: str) -> None:
        self.failures[client_address] = self.failures.get(client_address, 0) + 1


@dataclass
class Portal:
    clock: Clock
    store: PortalStore
    issuer: LinkIssuer
    relay: Relay
    sessions: PortalSessions

    def token(self, link_id: str, kind: LinkKind, lifetime: timedelta = timedelta(hours=1)) -> str:
        claims = LinkClaims(link_id, "org_acme", kind, self.clock.now() + lifetime)
        return issue_link_token(claims, KEY.encode(), lambda n: link_id.encode().ljust(n, b"."))

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.store.outbox if raw]


@pytest.fixture
def portal() -> Portal:
    clock = Clock()
    store, issuer, relay = PortalStore(clock), LinkIssuer(), Relay()
    settings = Settings(link_signing_key=KEY, redeem_failures_per_minute=3, portal_session_max_seconds=3600)
    return Portal(clock, store, issuer, relay, PortalSessions(store, issuer, relay, settings, clock))  # type: ignore[arg-type]


async def known_shareable_link(portal: Portal, link_id: str = "lnk_share") -> str:
    """A shareable link whose `issued` event Redis has already applied."""
    token = portal.token(link_id, "shareable")
    await portal.store.apply_link_issued(link_id, "org_acme", "shareable", (T0 + timedelta(hours=1)).timestamp(),
                                         token_sha256(token))
    return token


async def test_a_magic_link_redeems_once_then_is_gone_as_used(portal: Portal):
    portal.issuer.links["lnk_magic1"] = "ok"
    token = portal.token("lnk_magic1", "magic")
    first = await portal.sessions.redeem(token, OFFICE, BROWSER)
    again = await portal.sessions.redeem(token, OFFICE, BROWSER)
    assert isinstance(first, Redeemed) and first.ends_at == T0.timestamp() + 3600
    assert again == Gone("used", "org_acme")
    assert len(portal.issuer.asked) == 1  # the second attempt is refused by Redis's state alone
    assert portal.relay.wakes == 1
    redeemed, started = portal.events()
    assert (redeemed["type"], started["type"]) == ("portico.portal_link.redeemed", "portico.portal_session.started")
    assert redeemed["time"].startswith("2026-03-02T09:00:00")
    assert redeemed["data"]["actor"] == {"kind": "portal_session", "id": redeemed["data"]["session_id"],
                                         "client_address": OFFICE, "user_agent": BROWSER}


async def test_a_shareable_link_redis_knows_opens_many_sessions_without_asking_link_issuer(portal: Portal):
    token = await known_shareable_link(portal)
    opened = [await portal.sessions.redeem(token, OFFICE, None) for _ in range(3)]
    assert all(isinstance(outcome, Redeemed) for outcome in opened)
    assert len({outcome.cookie for outcome in opened if isinstance(outcome, Redeemed)}) == 3
    assert portal.issuer.asked == []
    assert portal.events()[0]["data"]["actor"]["user_agent"] is None  # no header: no user agent, not ""


async def test_an_expired_link_is_gone_as_expired(portal: Portal):
    token = await known_shareable_link(portal)
    portal.clock.at = T0 + timedelta(hours=2)
    assert await portal.sessions.redeem(token, OFFICE, BROWSER) == Gone("expired", "org_acme")
    portal.issuer.links["lnk_magic2"] = "expired"
    assert await portal.sessions.redeem(portal.token("lnk_magic2", "magic"), OFFICE, BROWSER) == Gone("expired", "org_acme")
    assert portal.store.outbox == [] and portal.relay.wakes == 0


async def test_a_refusal_from_link_issuer_is_remembered_so_the_next_attempt_is_refused_without_asking(portal: Portal):
    portal.issuer.links["lnk_magic3"] = "revoked"
    token = portal.token("lnk_magic3", "magic")
    assert await portal.sessions.redeem(token, OFFICE, BROWSER) == Gone("revoked", "org_acme")
    assert await portal.sessions.redeem(token, OFFICE, BROWSER) == Gone("revoked", "org_acme")
    assert len(portal.issuer.asked) == 1


async def test_guesses_are_throttled_per_address_yet_the_address_still_opens_the_links_it_was_given(portal: Portal):
    guesses = [await portal.sessions.redeem(f"v1.guess{i}.sig", OFFICE, BROWSER) for i in range(4)]
    assert guesses == [Gone("invalid")] * 3 + [Throttled(42)]
    assert await portal.sessions.read_link("not-a-token", OFFICE) == Throttled(42)
    assert await portal.sessions.redeem("not-a-token", "198.51.100.1", BROWSER) == Gone("invalid")
    assert isinstance(await portal.sessions.redeem(await known_shareable_link(portal), OFFICE, BROWSER), Redeemed)


async def test_a_signed_link_unknown_to_link_issuer_is_invalid_and_counts_as_a_guess(portal: Portal):
    assert await portal.sessions.redeem(portal.token("lnk_magic_gone", "magic"), OFFICE, BROWSER) == Gone("invalid", "org_acme")
    assert portal.store.failures == {OFFICE: 1}


async def test_reading_a_link_spends_nothing(portal: Portal):
    portal.issuer.links["lnk_magic4"] = "ok"
    token = portal.token("lnk_magic4", "magic")
    claims = await portal.sessions.read_link(token, OFFICE)
    assert isinstance(claims, LinkClaims) and (claims.link_id, claims.kind) == ("lnk_magic4", "magic")
    assert portal.issuer.asked == [] and portal.store.links == {}
    assert isinstance(await portal.sessions.redeem(token, OFFICE, BROWSER), Redeemed)


async def test_completing_setup_ends_a_magic_links_session(portal: Portal):
    portal.issuer.links["lnk_magic5"] = "ok"
    redeemed = await portal.sessions.redeem(portal.token("lnk_magic5", "magic"), OFFICE, BROWSER)
    assert isinstance(redeemed, Redeemed)
    session = await portal.sessions.current(redeemed.cookie)
    portal.clock.at = T0 + timedelta(minutes=5)
    finished = await portal.sessions.complete(session, redeemed.cookie, OFFICE)
    assert finished == SetupFinished(True, "https://app.example/done")
    with pytest.raises(Unauthenticated) as over:
        await portal.sessions.current(redeemed.cookie)
    assert over.value.code == "session_ended"
    ended = portal.events()[-1]
    assert (ended["type"], ended["data"]["reason"]) == ("portico.portal_session.ended", "setup_completed")
    assert ended["time"].startswith("2026-03-02T09:05:00") and ended["data"]["session_id"] == session.session_id
    assert portal.relay.wakes == 2


async def test_completing_setup_leaves_a_shareable_links_session_open(portal: Portal):
    redeemed = await portal.sessions.redeem(await known_shareable_link(portal), OFFICE, BROWSER)
    assert isinstance(redeemed, Redeemed)
    session = await portal.sessions.current(redeemed.cookie)
    assert await portal.sessions.complete(session, redeemed.cookie, OFFICE) == SetupFinished(False, "https://app.example/done")
    assert await portal.sessions.current(redeemed.cookie) == session


async def test_no_cookie_is_no_session(portal: Portal):
    with pytest.raises(Unauthenticated) as over:
        await portal.sessions.current(None)
    assert over.value.code == "no_session"


async def test_revoking_a_link_ends_every_session_opened_with_it_once(portal: Portal):
    token = await known_shareable_link(portal)
    other = await known_shareable_link(portal, "lnk_other")
    cookies = [outcome.cookie for outcome in [await portal.sessions.redeem(token, OFFICE, BROWSER) for _ in range(2)]
               if isinstance(outcome, Redeemed)]
    bystander = await portal.sessions.redeem(other, OFFICE, BROWSER)
    assert len(cookies) == 2 and isinstance(bystander, Redeemed)
    revocation = CloudEvent.wrap(PortalLinkRevoked(organization_id="org_acme", link_id="lnk_share",
                                                   actor=Actor(kind="api_key", id="key_1")), source="/test", time=T0)
    wakes = portal.relay.wakes
    assert await portal.sessions.revoke(revocation.typed_data(), revocation.id) == Revoked(2)  # type: ignore[arg-type]
    assert portal.relay.wakes == wakes + 1
    for cookie in cookies:
        with pytest.raises(Unauthenticated):
            await portal.sessions.current(cookie)
    assert await portal.sessions.current(bystander.cookie)
    ended = [e for e in portal.events() if e["type"] == "portico.portal_session.ended"]
    assert [(e["data"]["reason"], e["data"]["actor"]["id"]) for e in ended] == [("link_revoked", "key_1")] * 2
    assert {e["id"] for e in ended} == {derived_event_id(revocation.id, e["data"]["session_id"]) for e in ended}
    assert portal.store.link_sessions["lnk_share"] == set()
    assert await portal.sessions.revoke(revocation.typed_data(), revocation.id) == Revoked(0)  # type: ignore[arg-type]
    assert portal.relay.wakes == wakes + 1
    assert await portal.sessions.redeem(token, OFFICE, BROWSER) == Gone("revoked", "org_acme")
