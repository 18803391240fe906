"""HTML of the operator console (no I/O): the layout with the role's navigation, the building blocks of its
pages, and the pages around signing in. console_sections.py has the pages of each section; console.js fills
them all from the console's JSON API.

Every value is escaped here; pages carry no inline script or style (the CSP forbids both), and what the
page script needs travels in a JSON data block (shared.pages)."""
from dataclasses import dataclass, field
from typing import Any

from link_issuer.accounts.operators import OperatorPermission as P
from shared.pages import config_block, e

PRODUCT = "Portico console"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    permission: P


# The pages in navigation order; the first one a role may open is its home.
NAVIGATION = (
    NavItem("/console/organizations", "Organizations", P.ORGANIZATIONS_READ),
    NavItem("/console/audit", "Audit log", P.AUDIT_READ),
    NavItem("/console/api-keys", "API keys", P.API_KEYS_MANAGE),
    NavItem("/console/operators", "Operators", P.OPERATORS_MANAGE),
)


@dataclass(frozen=True)
class Viewer:
    """Who the page is for: the signed-in operator (None on the sign-in page) and what their role allows."""

    operator_id: str | None = None
    email: str | None = None
    role: str | None = None
    permissions: frozenset[str] = frozenset()
    must_change_password: bool = False

    def may(self, permission: P) -> bool:
        return permission.value in self.permissions


@dataclass(frozen=True)
class Page:
    name: str  # data-page, which console.js dispatches on
    title: str
    body: str
    section: str | None = None  # the navigation entry to mark as current
    script: dict[str, Any] = field(default_factory=dict)
    status: int = 200


def navigation(viewer: Viewer, current: str | None) -> str:
    if viewer.operator_id is None or viewer.must_change_password:
        return ""
    items = []
    for item in NAVIGATION:
        if viewer.may(item.permission):
            aria = ' aria-current="page"' if item.path == current else ""
            items.append(f'<li><a href="{e(item.path)}"{aria}>{e(item.label)}</a></li>')
    return f'<nav class="console-nav" aria-label="Console"><ul>{"".join(items)}</ul></nav>'


def account(viewer: Viewer) -> str:
    if viewer.operator_id is None:
        return ""
    return (
        '<div class="account">'
        f'<span class="who"><span class="email">{e(viewer.email)}</span> <span class="role role-{e(viewer.role)}">{e(viewer.role)}</span></span>'
        '<a class="plain-link" href="/console/password">Change password</a>'
        '<button type="button" class="button secondary small" id="sign-out">Sign out</button>'
        "</div>"
    )


def layout(assets: dict[str, str], viewer: Viewer, page: Page) -> str:
    script = {
        "page": page.name,
        "operator": None if viewer.operator_id is None else {
            "id": viewer.operator_id, "email": viewer.email, "role": viewer.role,
            "must_change_password": viewer.must_change_password,
        },
        "permissions": sorted(viewer.permissions),
        **page.script,
    }
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(page.title)} · {PRODUCT}</title>
<link rel="icon" href="{e(assets['favicon.svg'])}" type="image/svg+xml">
<link rel="stylesheet" href="{e(assets['base.css'])}">
<link rel="stylesheet" href="{e(assets['console.css'])}">
<script src="{e(assets['console.js'])}" defer></script>
</head>
<body data-page="{e(page.name)}">
<a class="skip-link" href="#main">Skip to main content</a>
<header class="top">
<div class="top-inner console-top"><a class="product" href="/console/">{PRODUCT}</a>{navigation(viewer, page.section)}{account(viewer)}</div>
</header>
<div class="container wide">
<main id="main" tabindex="-1">
{page.body}
</main>
</div>
<footer class="bottom"><p>Portico operator console. Every action here is recorded in the audit log.</p></footer>
<div class="visually-hidden" id="announcer" aria-live="polite"></div>
{config_block("console-config", script)}
</body>
</html>"""


# Building blocks ---------------------------------------------------------------------------------


def text_field(name: str, label: str, *, kind: str = "text", hint: str = "", attrs: str = "") -> str:
    """A labelled input with room for the API's error under it (shown by console.js, named by `field`)."""
    described = f' aria-describedby="{name}-hint"' if hint else ""
    hint_html = f'<p class="hint" id="{name}-hint">{e(hint)}</p>' if hint else ""
    return (
        f'<div class="field"><label for="{name}">{e(label)}</label>{hint_html}'
        f'<input type="{kind}" id="{name}" name="{name}"{described} {attrs}>'
        f'<p class="field-error" id="{name}-error" hidden></p></div>'
    )


def form_error() -> str:
    return '<div class="form-error" id="form-error" role="alert" tabindex="-1" hidden></div>'


def shown_once(box_id: str, title: str, label: str) -> str:
    """Where a new secret (link, API key, one-time password) appears once, with its copy button."""
    return (
        f'<div class="callout once" id="{box_id}" tabindex="-1" hidden>'
        f'<h3 id="{box_id}-title">{e(title)}</h3>'
        '<p class="hint">Copy it now: it is shown only once.</p>'
        f'<div class="copy-value"><code id="{box_id}-value"></code>'
        f'<button type="button" class="copy" data-copy="{box_id}-value">{e(label)}</button></div>'
        f'<p class="hint" id="{box_id}-detail"></p></div>'
    )


def table(table_id: str, caption: str, columns: list[str], empty: str) -> str:
    head = "".join(
        f'<th scope="col">{e(c)}</th>' if c else '<th scope="col"><span class="visually-hidden">Actions</span></th>'
        for c in columns
    )
    return (
        f'<div class="table-wrap"><table class="data-table stack" id="{table_id}" hidden>'
        f'<caption>{e(caption)}</caption><thead><tr>{head}</tr></thead><tbody></tbody></table></div>'
        f'<p class="empty" id="{table_id}-empty" hidden>{e(empty)}</p>'
    )


def pager(name: str) -> str:
    return (
        f'<nav class="pager" aria-label="{e(name)} pages">'
        '<button type="button" class="button secondary" data-pager="previous" disabled>Previous</button>'
        '<button type="button" class="button secondary" data-pager="next" disabled>Next</button></nav>'
    )


def status_line(status_id: str = "results-status") -> str:
    return f'<p class="hint" id="{status_id}" role="status" aria-live="polite"></p>'


def confirm_dialog() -> str:
    return (
        '<dialog id="confirm-dialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">'
        '<h2 id="confirm-title"></h2><p id="confirm-text"></p>'
        '<div class="actions"><button type="button" class="button danger solid" id="confirm-yes"></button>'
        '<button type="button" class="button secondary" id="confirm-no">Cancel</button></div></dialog>'
    )


# Pages -------------------------------------------------------------------------------------------


def sign_in_page() -> Page:
    body = f"""<section class="card narrow">
<h1>Sign in</h1>
<p class="hint">The console is for {e("Portico")} operators: support staff, auditors and administrators.</p>
<form id="sign-in-form" novalidate>
{form_error()}
{text_field("email", "Email", kind="email", attrs='autocomplete="username" required autofocus')}
{text_field("password", "Password", kind="password", attrs='autocomplete="current-password" required')}
<div class="actions"><button type="submit" class="button">Sign in</button></div>
</form>
<p class="hint">No account, or locked out? Ask an administrator of your Portico installation.</p>
</section>"""
    return Page("sign-in", "Sign in", body)


def password_page(forced: bool) -> Page:
    intro = (
        "Your password was set by an administrator and works only once. Choose your own to continue."
        if forced else "Choose a new password for your console account."
    )
    current_label = "One-time password" if forced else "Current password"
    body = f"""<section class="card narrow">
<h1>{"Choose your password" if forced else "Change your password"}</h1>
<p>{e(intro)}</p>
<form id="password-form" novalidate>
{form_error()}
{text_field("current_password", current_label, kind="password", attrs='autocomplete="current-password" required autofocus')}
{text_field("new_password", "New password", kind="password", hint="At least 12 characters. A few unrelated words make a strong one.", attrs='autocomplete="new-password" required minlength="12"')}
{text_field("confirm_password", "Repeat the new password", kind="password", attrs='autocomplete="new-password" required')}
<div class="actions"><button type="submit" class="button">Save password</button></div>
</form>
</section>"""
    return Page("password", "Change password", body, script={"forced": forced})


def forbidden_page(viewer: Viewer) -> Page:
    body = f"""<section class="card message">
<h1>You cannot open this page</h1>
<p>Your role ({e(viewer.role)}) does not include this part of the console.</p>
<p>If you need it, ask an administrator to change your role.</p>
<p><a class="button secondary" href="/console/">Go to your start page</a></p>
</section>"""
    return Page("forbidden", "Not allowed", body, status=403)


def not_found_page() -> Page:
    body = """<section class="card message">
<h1>Nothing here</h1>
<p>This page does not exist in the console.</p>
<p><a class="button secondary" href="/console/">Go to your start page</a></p>
</section>"""
    return Page("not-found", "Not found", body, status=404)
