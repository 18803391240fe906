"""Signing in at Keycloak with httpx the way a browser does: its login form, then back to the service
provider (the redirect with the OIDC code, or the SAML response's auto-POST form)."""
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookiejar import Cookie, CookieJar
from typing import Any
from urllib.request import Request

import httpx

from tests.integration.keycloak.server import KEYCLOAK_URL


class SignInFailed(RuntimeError):
    """Keycloak did not let the user through: a wrong password, a bad request, an error page."""


class LoopbackCookieJar(CookieJar):
    """Keycloak marks its cookies Secure even over http. Browsers count http://127.0.0.1 and localhost as
    secure origins and send such cookies back; http.cookiejar does not, and a cookie policy would not help
    (httpx copies the jar into a plain one for every request). So on loopback they are kept as ordinary
    cookies."""

    def make_cookies(self, response: Any, request: Request) -> Sequence[Cookie]:
        cookies = super().make_cookies(response, request)
        if request.host.split(":")[0] in ("127.0.0.1", "localhost"):
            for cookie in cookies:
                cookie.secure = False
        return cookies


def browser() -> httpx.AsyncClient:
    """An httpx client that keeps cookies like a browser on loopback; redirects are followed by the caller."""
    return httpx.AsyncClient(timeout=30, cookies=LoopbackCookieJar())


@dataclass(frozen=True)
class HtmlForm:
    action: str
    fields: dict[str, str]


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[HtmlForm] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(HtmlForm(values.get("action", ""), {}))
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1].fields[values["name"]] = values.get("value", "")


def html_forms(page: str) -> list[HtmlForm]:
    reader = _FormReader()
    reader.feed(page)
    return reader.forms


@dataclass(frozen=True)
class SamlPost:
    """The auto-submitting form Keycloak answers with: what the browser would POST to the SP's ACS."""

    acs_url: str
    saml_response: str
    relay_state: str | None

    def form(self, saml_response: str | None = None) -> dict[str, str]:
        """The form the browser posts to the ACS (with `saml_response` in place of Keycloak's, for a test that
        changed it)."""
        return {"SAMLResponse": saml_response or self.saml_response, "RelayState": self.relay_state or ""}


MAX_HOPS = 10


async def sign_in(
    client: httpx.AsyncClient, start_url: str, username: str, password: str, *, keycloak_url: str = KEYCLOAK_URL
) -> httpx.URL | SamlPost:
    """Open `start_url` (an OIDC authorization URL, or Keycloak's SAML endpoint with a SAMLRequest, or a
    service provider's URL that redirects there), fill Keycloak's login form and stop where the browser
    leaves Keycloak: the redirect it is sent to (OIDC: redirect_uri?code=…&state=…) or the SAML POST form."""
    page = await _follow_to_page(client, await client.get(start_url), keycloak_url)
    if isinstance(page, httpx.URL):
        return page
    login = next((form for form in html_forms(page.text) if "username" in form.fields), None)
    if login is None:
        raise SignInFailed(f"no login form at {page.url} ({page.status_code}): {_visible_text(page.text)}")
    fields = login.fields | {"username": username, "password": password}
    answer = await _follow_to_page(client, await client.post(login.action, data=fields), keycloak_url)
    if isinstance(answer, httpx.URL):
        return answer
    saml = next((form for form in html_forms(answer.text) if "SAMLResponse" in form.fields), None)
    if saml is None:
        raise SignInFailed(f"Keycloak did not sign {username} in ({answer.status_code}): {_visible_text(answer.text)}")
    return SamlPost(saml.action, saml.fields["SAMLResponse"], saml.fields.get("RelayState"))


async def _follow_to_page(client: httpx.AsyncClient, response: httpx.Response, keycloak_url: str) -> httpx.Response | httpx.URL:
    """Follow redirects within Keycloak (and the SP's own hop to it); return the page reached, or the
    first redirect that leaves Keycloak after having been there."""
    for _ in range(MAX_HOPS):
        if not response.is_redirect:
            return response
        target = response.url.join(response.headers["Location"])
        if str(response.url).startswith(keycloak_url) and not str(target).startswith(keycloak_url):
            return target
        response = await client.get(target)
    raise SignInFailed(f"more than {MAX_HOPS} redirects, the last to {response.url}")


def _visible_text(page: str) -> str:
    """The page without markup, squeezed: enough of Keycloak's error page to say what went wrong."""
    text = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", page, flags=re.S | re.I)
    return " ".join(html.unescape(text).split())[:300]
