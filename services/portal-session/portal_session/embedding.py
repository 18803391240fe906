"""Embedding rules of the portal (no I/O): when a frame must first show that it keeps cookies before a
one-time link is spent in it. Who may frame a page is its CSP's frame-ancestors (shared.pages.page_headers)."""
from typing import Literal

PROBE_COOKIE = "portico_cookie_check"
PROBE_PARAM = "cookie_check"
FRAME_DESTINATIONS = ("iframe", "frame")


RedeemStep = Literal["redeem", "check_cookies", "cookies_blocked"]


def redeem_step(*, fetch_dest: str | None, fetch_site: str | None, has_probe_cookie: bool, probe_requested: bool) -> RedeemStep:
    """What to do with a link request before spending it.

    A cross-site frame may be refused cookies (Safari, Chrome with third-party cookies blocked, or any
    plain-HTTP deployment). Spending a magic link there would leave the admin with a used link and no
    session, so such a frame first sets a test cookie and reloads itself: the link is redeemed only if
    the cookie came back; otherwise the admin is offered the same, still unused, link in a new tab.
    """
    if probe_requested:
        return "redeem" if has_probe_cookie else "cookies_blocked"
    if fetch_dest in FRAME_DESTINATIONS and fetch_site == "cross-site" and not has_probe_cookie:
        return "check_cookies"
    return "redeem"
