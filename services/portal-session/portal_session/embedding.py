"""Embedding rules of the portal (no I/O): who may frame a page, and when a frame must first show that
it keeps cookies before a one-time link is spent in it."""
from typing import Literal

PROBE_COOKIE = "portico_cookie_check"
PROBE_PARAM = "cookie_check"
FRAME_DESTINATIONS = ("iframe", "frame")


def frame_ancestors(allowed: list[str]) -> str:
    """The CSP directive: the organization's allowed origins, or no framing at all."""
    return "frame-ancestors " + (" ".join(allowed) if allowed else "'none'")


def page_headers(allowed_ancestors: list[str], *, image_origin: str | None = None) -> dict[str, str]:
    """Headers of every portal page: a strict CSP (every asset from Portico's origin), framing limited
    to the organization's allowed ancestors, and nothing cached or leaked through the Referer."""
    images = "'self' data:" + (f" {image_origin}" if image_origin else "")
    policy = "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {images}",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        frame_ancestors(allowed_ancestors),
    ))
    headers = {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if not allowed_ancestors:
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    return headers


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
