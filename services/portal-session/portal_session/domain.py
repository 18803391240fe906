"""Pure rules of portal-session: what a dead link tells the admin, cookie attributes, derived event ids."""
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

# The CloudEvents source of everything portal-session publishes.
SOURCE = "/portico/portal-session"

SESSION_COOKIE = "portico_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class GoneLink:
    code: str
    title: str
    message: str


GONE_LINKS = {
    "used": GoneLink(
        "link_used",
        "This setup link has already been used",
        "Setup links work once. Ask the person who sent it to generate a new one from their product.",
    ),
    "expired": GoneLink(
        "link_expired",
        "This setup link has expired",
        "Setup links are short-lived for your security. Ask the person who sent it for a new one.",
    ),
    "revoked": GoneLink(
        "link_revoked",
        "This setup link was revoked",
        "Whoever shared it turned it off. Ask them for a new link if you still need to configure SSO.",
    ),
    "invalid": GoneLink(
        "link_invalid",
        "This setup link is not valid",
        "Check that you copied the whole link. If it still fails, ask the person who sent it for a new one.",
    ),
}

SESSION_OVER = {
    "none": "Your setup session has ended. Open the setup link again, or ask for a new one.",
    "expired": "Your setup session has expired. Ask the person who sent the link for a new one.",
    "revoked": "The link this session came from was revoked, so the session has ended.",
}


@dataclass(frozen=True)
class CookiePolicy:
    secure: bool
    samesite: str
    partitioned: bool


    def set_cookie_header(self, name: str, value: str, *, max_age: int, path: str) -> str:
        """The Set-Cookie value, written here rather than by Starlette, whose `partitioned=True` raises
        below Python 3.14 (every https redemption answered 500 and spent the link)."""
        parts = [f"{name}={value}", f"Max-Age={max_age}", f"Path={path}", "HttpOnly", f"SameSite={self.samesite.capitalize()}"]
        if self.secure:
            parts.append("Secure")
        if self.partitioned:
            parts.append("Partitioned")
        return "; ".join(parts)


def cookie_policy(public_url: str) -> CookiePolicy:
    """Secure, SameSite=None and partitioned (works in a third-party iframe) on https; plain-HTTP
    loopback development cannot use Secure cookies, so it falls back to SameSite=Lax."""
    if urlsplit(public_url).scheme == "https":
        return CookiePolicy(secure=True, samesite="none", partitioned=True)
    return CookiePolicy(secure=False, samesite="lax", partitioned=False)


def derived_event_id(cause_event_id: str, subject_id: str) -> str:
    """A stable id for an event caused by another one, so redelivery of the cause repeats the id."""
    digest = hashlib.sha256(f"{cause_event_id}:{subject_id}".encode()).hexdigest()
    return f"evt_{digest[:26]}"
