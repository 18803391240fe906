"""The HTML page kit the operator console and the portal share: escaping, the JSON block a page script
reads its data from, the page assets in shared/ui, and the headers of pages (a strict CSP) and of assets.

Pages built with it carry no inline script or style (the CSP forbids both): what the page script needs
travels in the config block, and every value written into the HTML goes through `e`."""
import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

# The look the console and the portal share, served by each from shared/ui.
SHARED_UI_FILES = ("base.css",)


def e(value: object) -> str:
    """`value` as HTML text or attribute value; None as nothing."""
    return html.escape("" if value is None else str(value), quote=True)


def config_block(element_id: str, data: Mapping[str, Any]) -> str:
    """`data` as a <script type="application/json"> element for the page script to read."""
    # `<`, `>` and `&` escaped so the JSON can never close the element it sits in.
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{e(element_id)}">{text}</script>'


def read_ui_file(package: str, name: str) -> bytes:
    """A page asset: a shared one from shared/ui, otherwise from the `ui` folder of the service's `package`."""
    home = "shared" if name in SHARED_UI_FILES else package
    return resources.files(home).joinpath("ui", name).read_bytes()


def content_version(body: bytes) -> str:
    """What an asset's URL carries (`?v=…`), so a changed file gets a new URL and may be cached for ever."""
    return hashlib.sha256(body).hexdigest()[:12]


def asset_headers() -> dict[str, str]:
    # URLs carry a content hash, so a changed file gets a new URL.
    return {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}


def frame_ancestors(allowed: Sequence[str]) -> str:
    """The CSP directive: the origins allowed to frame the page, or no framing at all."""
    return "frame-ancestors " + (" ".join(allowed) if allowed else "'none'")


def content_security_policy(allowed_ancestors: Sequence[str] = (), *, image_origin: str | None = None) -> str:
    """Every script, style and request from Portico's origin only; images also from `image_origin`."""
    images = "'self' data:" + (f" {image_origin}" if image_origin else "")
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {images}",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        frame_ancestors(allowed_ancestors),
    ))


def page_headers(allowed_ancestors: Sequence[str] = (), *, image_origin: str | None = None) -> dict[str, str]:
    """Headers of every HTML page: the strict CSP, framing only by `allowed_ancestors` (none by default:
    the console is never framed, a portal page by its organization's origins), and nothing cached or
    leaked through the Referer."""
    headers = {
        "Content-Security-Policy": content_security_policy(allowed_ancestors, image_origin=image_origin),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    if not allowed_ancestors:
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    return headers
