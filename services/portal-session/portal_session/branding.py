"""The SaaS vendor's branding on the portal: product name, logo and accent colour, checked once at start."""
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.settings import Settings

_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class InvalidBranding(ValueError):
    """A branding setting the portal cannot use; the message names the variable to fix."""


@dataclass(frozen=True)
class Brand:
    product_name: str
    logo_url: str | None
    accent: str  # #rrggbb
    accent_text: str  # the text colour readable on the accent: #ffffff or #111827
    accent_ink: str  # the accent where it is text on white (links), darkened to black if too light

    @property
    def logo_origin(self) -> str | None:
        """The logo's origin when it lives off Portico's origin (the page's CSP must allow it)."""
        if not self.logo_url or self.logo_url.startswith("/"):
            return None
        parts = urlsplit(self.logo_url)
        return f"{parts.scheme}://{parts.netloc}"


def _full_hex(colour: str) -> str:
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(char * 2 for char in digits)
    return f"#{digits.lower()}"


def _relative_luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def readable_text_on(colour: str) -> str:
    """White or near-black, whichever contrasts more with `colour` (WCAG relative luminance)."""
    luminance = _relative_luminance(colour)
    on_white = 1.05 / (luminance + 0.05)
    on_dark = (luminance + 0.05) / (_relative_luminance("#111827") + 0.05)
    return "#ffffff" if on_white >= on_dark else "#111827"


def ink_on_white(colour: str) -> str:
    """`colour` when it reads on white at WCAG AA (4.5:1), else near-black."""
    return colour if 1.05 / (_relative_luminance(colour) + 0.05) >= 4.5 else "#111827"


def _check_logo_url(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if value.startswith("/") and not value.startswith("//"):
        return value
    parts = urlsplit(value)
    loopback_http = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if (parts.scheme != "https" and not loopback_http) or not parts.hostname or any(c in value for c in "\"'<> "):
        raise InvalidBranding(
            "PORTICO_PORTAL_LOGO_URL must be an https:// URL (http only on loopback) or a path on Portico's origin."
        )
    return value


def brand_from_settings(settings: Settings) -> Brand:
    name = settings.portal_product_name.strip()
    if not name or len(name) > 80:
        raise InvalidBranding("PORTICO_PORTAL_PRODUCT_NAME must be 1 to 80 characters.")
    if not _HEX_COLOUR.match(settings.portal_accent_color.strip()):
        raise InvalidBranding("PORTICO_PORTAL_ACCENT_COLOR must be a hex colour such as #3b5bdb.")
    accent = _full_hex(settings.portal_accent_color.strip())
    return Brand(name, _check_logo_url(settings.portal_logo_url), accent, readable_text_on(accent), ink_on_white(accent))
