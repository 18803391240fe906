"""HTML of the portal (no I/O): the shared layout, the pages around a setup, and small helpers.

Every value is escaped here; pages carry no inline script or style (the CSP forbids both), and what the
page script needs travels in a JSON data block (shared.pages)."""
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal_session.branding import Brand
from portal_session.domain import GoneLink
from portal_session.guides import PROTOCOL_NAMES, Guide
from shared.pages import config_block, e

STEPS = ("Choose provider", "Set up your provider", "Enter its details", "Test and enable")
STATUS_LABELS = {
    "draft": "Details missing",
    "configured": "Ready to enable",
    "enabled": "Enabled",
    "disabled": "Disabled",
}


@dataclass(frozen=True)
class Site:
    """What every page shares for the life of the process: branding and versioned asset URLs."""

    brand: Brand
    assets: dict[str, str]  # name -> URL with a content hash


@dataclass(frozen=True)
class PageContext:
    """Who the page is for: the organization and, when there is one, the live session."""

    organization_id: str | None = None
    organization_name: str | None = None
    frame_ancestors: list[str] = field(default_factory=list)
    return_url: str | None = None
    script: dict[str, Any] = field(default_factory=dict)  # handed to portal.js as JSON


def brand_mark(brand: Brand) -> str:
    if brand.logo_url:
        return f'<img class="logo" src="{e(brand.logo_url)}" alt="{e(brand.product_name)}">'
    return f'<span class="product">{e(brand.product_name)}</span>'


def progress(current: int | None) -> str:
    if current is None:
        return ""
    items = []
    for number, label in enumerate(STEPS, start=1):
        state = "done" if number < current else "current" if number == current else "todo"
        aria = ' aria-current="step"' if number == current else ""
        done = '<span class="visually-hidden"> (done)</span>' if state == "done" else ""
        items.append(f'<li class="{state}"{aria}><span class="step-number">{number}</span> {e(label)}{done}</li>')
    return f'<nav class="progress" aria-label="Setup progress"><ol>{"".join(items)}</ol></nav>'


def layout(
    site: Site, context: PageContext, *, page: str, title: str, body: str, step: int | None = None
) -> str:
    org = (
        f'<p class="org">Single sign-on for <strong>{e(context.organization_name)}</strong></p>'
        if context.organization_name else ""
    )
    back = (
        f'<a class="back" href="{e(context.return_url)}" target="_top">Back to {e(site.brand.product_name)}</a>'
        if context.return_url else ""
    )
    footer = "Single sign-on setup, powered by Portico." if site.brand.product_name == "Portico" else (
        f"Single sign-on setup for {e(site.brand.product_name)}, powered by Portico.")
    script = {
        "page": page,
        "organization_id": context.organization_id,
        "frame_ancestors": context.frame_ancestors,
        "product": site.brand.product_name,
        **context.script,
    }
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · {e(site.brand.product_name)}</title>
<link rel="icon" href="{e(site.assets['favicon.svg'])}" type="image/svg+xml">
<link rel="stylesheet" href="{e(site.assets['base.css'])}">
<link rel="stylesheet" href="{e(site.assets['portal.css'])}">
<link rel="stylesheet" href="{e(site.assets['brand.css'])}">
<script src="{e(site.assets['portal.js'])}" defer></script>
</head>
<body data-page="{e(page)}">
<a class="skip-link" href="#main">Skip to main content</a>
<header class="top">
<div class="top-inner">{brand_mark(site.brand)}{org}{back}</div>
</header>
<div class="banner" id="session-banner" role="status" aria-live="polite" hidden></div>
<div class="container">
{progress(step)}
<main id="main" tabindex="-1">
{body}
</main>
</div>
<footer class="bottom"><p>{footer}</p></footer>
<div class="visually-hidden" id="announcer" aria-live="polite"></div>
{config_block("portico-config", script)}
</body>
</html>"""


def timestamp(value: str | None) -> str:
    """An RFC 3339 time as a <time> element (the page script shows it in the admin's time zone)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return e(value)
    return f'<time datetime="{e(value)}" data-local>{e(moment.strftime("%Y-%m-%d %H:%M UTC"))}</time>'


def status_badge(status: str) -> str:
    return f'<span class="badge badge-{e(status)}">{e(STATUS_LABELS.get(status, status))}</span>'


def changed_by(actor: str | None, session_id: str | None, product: str) -> str:
    """Who made the last change, in words an IT admin understands."""
    kind, _, ident = (actor or "").partition(":")
    if kind == "portal_session":
        return "you, in this session" if ident == session_id else "an administrator, through a setup link"
    if kind == "api_key":
        return f"{product}, through its API"
    if kind == "operator":
        return f"{product} support"
    return actor or "unknown"


def provider_label(guides: dict[str, Guide], provider: str, connection_type: str) -> str:
    guide = guides.get(provider)
    name = guide.name if guide else provider
    return f"{name} ({PROTOCOL_NAMES.get(connection_type, connection_type)})"


# Pages without a session -------------------------------------------------------------------------


def message_page(site: Site, context: PageContext, *, page: str, title: str, paragraphs: list[str], extra: str = "") -> str:
    text = "".join(f"<p>{e(paragraph)}</p>" for paragraph in paragraphs)
    body = f'<section class="card message"><h1>{e(title)}</h1>{text}{extra}</section>'
    return layout(site, context, page=page, title=title, body=body)


def gone_page(site: Site, context: PageContext, link: GoneLink) -> str:
    context.script.setdefault("failure", link.code)
    return message_page(
        site, context, page="link-gone", title=link.title,
        paragraphs=[link.message, f"Links come from {site.brand.product_name}: whoever manages it for your company can send a new one."],
    )


def session_over_page(site: Site, context: PageContext, code: str, message: str) -> str:
    context.script.setdefault("failure", code)
    return message_page(
        site, context, page="session-over", title="Your setup session has ended",
        paragraphs=[message, "Nothing you saved is lost: saved settings stay in place."],
    )


def not_found_page(site: Site, context: PageContext) -> str:
    return message_page(
        site, context, page="not-found", title="Nothing here",
        paragraphs=["This page or connection does not exist in your organization."],
        extra='<p><a class="button secondary" href="/portal/">Go to the start</a></p>',
    )


def cookie_check_page(site: Site, next_url: str) -> str:
    """Sets the test cookie (in the headers) and reloads the link with the check flag, without script."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={e(next_url)}">
<title>Opening the setup · {e(site.brand.product_name)}</title>
<link rel="stylesheet" href="{e(site.assets['base.css'])}">
<link rel="stylesheet" href="{e(site.assets['portal.css'])}"></head>
<body><main class="container"><p>Opening the setup…</p></main></body></html>"""


def cookies_blocked_page(site: Site, context: PageContext, link_url: str) -> str:
    context.script.setdefault("failure", "cookies_blocked")
    extra = (
        f'<p><a class="button" id="open-in-new-tab" href="{e(link_url)}" target="_blank" rel="noopener">'
        "Open the setup in a new tab</a></p>"
        '<p class="hint" id="opened-hint" hidden>The setup continues in the new tab. You can come back here when you are done.</p>'
    )
    return message_page(
        site, context, page="cookies-blocked", title="Open the setup in a new tab",
        paragraphs=[
            "Your browser does not let the single sign-on setup keep you signed in inside this page.",
            "Your link has not been used: open it in a new tab to continue.",
        ],
        extra=extra,
    )


# Pages of a session ------------------------------------------------------------------------------


def connection_rows(connections: list[dict[str, Any]], guides: dict[str, Guide], session_id: str, product: str) -> str:
    rows = []
    for connection in connections:
        action = "Continue setup" if connection["status"] == "draft" else "Manage"
        target = f"/portal/connections/{e(connection['id'])}" + ("/guide" if connection["status"] == "draft" else "")
        warnings = [w for w in connection.get("warnings", []) if w.get("code") != "incomplete"]
        flag = f'<span class="warning-count">{len(warnings)} warning{"s" if len(warnings) != 1 else ""}</span>' if warnings else ""
        rows.append(
            "<tr>"
            f'<th scope="row">{e(provider_label(guides, connection["provider"], connection["type"]))}</th>'
            f"<td>{status_badge(connection['status'])} {flag}</td>"
            f"<td>{timestamp(connection.get('updated_at'))}<br><span class=\"hint\">by {e(changed_by(connection.get('updated_by'), session_id, product))}</span></td>"
            f'<td><a href="{target}">{e(action)}<span class="visually-hidden"> ({e(provider_label(guides, connection["provider"], connection["type"]))})</span></a></td>'
            "</tr>"
        )
    return (
        '<div class="table-wrap"><table class="data-table connections"><caption>Your connections</caption>'
        '<thead><tr><th scope="col">Identity provider</th><th scope="col">Status</th>'
        '<th scope="col">Last change</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def welcome_page(
    site: Site, context: PageContext, connections: list[dict[str, Any]], guides: dict[str, Guide], session_id: str
) -> str:
    product = site.brand.product_name
    organization = context.organization_name or "your organization"
    existing = connection_rows(connections, guides, session_id, product) if connections else ""
    start_label = "Add another connection" if connections else "Start"
    body = f"""<section class="card intro">
<h1>Set up single sign-on for {e(organization)}</h1>
<p>{e(product)} asked you to connect your company's identity provider, so your colleagues sign in to
{e(product)} with the accounts they already have.</p>
<h2>What will happen</h2>
<ol class="plan">
<li><strong>Choose your identity provider</strong>: Okta, Microsoft Entra ID, Google Workspace and others, with SAML or OpenID Connect.</li>
<li><strong>Follow the guide</strong> for it: create an application in its admin console with the values we show you.</li>
<li><strong>Enter what your identity provider gives back</strong>: its metadata, or its issuer, client ID and secret. We check everything and explain any problem.</li>
<li><strong>Test and enable</strong>: sign in once at your identity provider to see exactly what it sends, then turn the connection on.</li>
</ol>
<p class="hint">It takes about 10 minutes. You need administrator access to your identity provider.</p>
<p><a class="button" href="/portal/providers">{e(start_label)}</a></p>
</section>
{existing}"""
    return layout(site, context, page="welcome", title="Set up single sign-on", body=body)


def providers_page(site: Site, context: PageContext, guides: dict[str, Guide]) -> str:
    tiles = []
    for guide in guides.values():
        protocols = " or ".join("SAML" if p == "saml" else "OIDC" for p in guide.protocols)
        tiles.append(
            f'<label class="tile"><input type="radio" name="provider" value="{e(guide.provider)}" '
            f'data-protocols="{e(",".join(guide.protocols))}" required>'
            f'<span class="tile-name">{e(guide.name)}</span><span class="tile-hint">{e(protocols)}</span></label>'
        )
    body = f"""<h1>Which identity provider does your company use?</h1>
<form id="provider-form" class="card" novalidate>
<div class="form-error" id="form-error" role="alert" tabindex="-1" hidden></div>
<fieldset>
<legend>Identity provider</legend>
<div class="tiles">{''.join(tiles)}</div>
<p class="field-error" id="provider-error" hidden></p>
</fieldset>
<fieldset id="protocol-choice" hidden>
<legend>Sign-in protocol</legend>
<p class="hint" id="protocol-hint">Both work. If you are not sure, keep the recommended one.</p>
<label class="choice"><input type="radio" name="type" value="saml"> SAML 2.0 <span class="recommended" data-for="saml">recommended</span></label>
<label class="choice"><input type="radio" name="type" value="oidc"> OpenID Connect (OIDC) <span class="recommended" data-for="oidc">recommended</span></label>
</fieldset>
<div class="actions"><button type="submit" class="button">Continue</button>
<a class="button secondary" href="/portal/">Back</a></div>
</form>"""
    return layout(site, context, page="providers", title="Choose your identity provider", body=body, step=1)
