"""HTML of the operator console (no I/O): the layout with the role's navigation, and one shell per page that
console.js fills from the console's JSON API.

Every value is escaped here; pages carry no inline script or style (the CSP forbids both), and what the
page script needs travels in a JSON data block."""
import html
import json
from dataclasses import dataclass, field
from typing import Any

from link_issuer.operators import OperatorPermission as P

PRODUCT = "Portico console"
# A shareable link lives up to 7 days (the API's limit); the picker offers the lifetimes support staff use.
LINK_LIFETIMES = ((3600, "1 hour"), (8 * 3600, "8 hours"), (86400, "1 day"), (3 * 86400, "3 days"), (7 * 86400, "7 days"))
DEFAULT_LIFETIME = 7 * 86400
AUDIT_TYPES = (
    "portico.organization.created", "portico.portal_link.issued", "portico.portal_link.revoked",
    "portico.portal_link.redeemed", "portico.portal_session.started", "portico.portal_session.ended",
    "portico.connection.viewed", "portico.connection.created", "portico.connection.updated",
    "portico.connection.enabled", "portico.connection.disabled", "portico.connection.deleted",
    "portico.operator.signed_in", "portico.operator.sign_in_failed", "portico.operator.signed_out",
    "portico.operator.created", "portico.operator.disabled", "portico.operator.password_reset",
    "portico.operator.password_changed", "portico.api_key.created", "portico.api_key.revoked",
    "portico.audit_log.exported", "portico.audit_log.verified",
)


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


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


def json_block(data: dict[str, Any]) -> str:
    # `<`, `>` and `&` escaped so the JSON can never close the element it sits in.
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="console-config">{text}</script>'


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
{json_block(script)}
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


def organizations_page(viewer: Viewer) -> Page:
    button, card = "", ""
    if viewer.may(P.ORGANIZATIONS_CREATE):
        button = ('<button type="button" class="button" id="show-create" aria-expanded="false" '
                  'aria-controls="create-card">Create organization</button>')
        card = f"""<section class="card" id="create-card" aria-labelledby="create-heading" hidden>
<h2 id="create-heading">Create an organization</h2>
<form id="create-form" novalidate>
{form_error()}
{text_field("display_name", "Name", hint="As the customer calls itself, e.g. Acme Corporation.", attrs='required maxlength="200"')}
{text_field("external_id", "External ID (optional)", hint="Your product's own id for this customer, to find it again.", attrs='maxlength="200"')}
<div class="field"><label for="allowed_frame_ancestors">Origins that may embed the portal (optional)</label>
<p class="hint" id="allowed_frame_ancestors-hint">One per line, e.g. https://app.example.com</p>
<textarea id="allowed_frame_ancestors" name="allowed_frame_ancestors" rows="2" aria-describedby="allowed_frame_ancestors-hint"></textarea>
<p class="field-error" id="allowed_frame_ancestors-error" hidden></p></div>
<div class="actions"><button type="submit" class="button">Create organization</button>
<button type="button" class="button secondary" id="cancel-create">Cancel</button></div>
</form>
</section>"""
    body = f"""<div class="page-head"><h1>Organizations</h1>{button}</div>
{card}
<form id="search-form" class="search" role="search">
<label for="q">Search by name or external ID</label>
<div class="search-row"><input type="search" id="q" name="q" maxlength="200" autocomplete="off">
<button type="submit" class="button">Search</button></div>
</form>
{status_line()}
{table("organizations-table", "Organizations", ["Name", "External ID", "Organization ID", "Created"], "No organizations yet.")}
{pager("Organization")}"""
    return Page("organizations", "Organizations", body, section="/console/organizations")


def organization_page(viewer: Viewer, organization_id: str) -> Page:
    generate = ""
    if viewer.may(P.LINKS_WRITE):
        options = "".join(
            f'<option value="{seconds}"{" selected" if seconds == DEFAULT_LIFETIME else ""}>{e(label)}</option>'
            for seconds, label in LINK_LIFETIMES
        )
        generate = f"""<section class="card" id="generate-card" aria-labelledby="generate-heading">
<h2 id="generate-heading">Send the customer a setup link</h2>
<p class="hint">A <strong>magic link</strong> opens the setup once, within 5 minutes. A <strong>shareable link</strong> works for
everyone who has it until it expires or you revoke it; revoking it ends the sessions opened with it.</p>
<div class="generate-row">
<div class="actions"><button type="button" class="button" id="generate-magic">Generate magic link</button></div>
<div class="field lifetime"><label for="lifetime">Shareable link lifetime</label>
<select id="lifetime" name="expires_in_seconds">{options}</select></div>
<div class="actions"><button type="button" class="button" id="generate-shareable">Generate shareable link</button></div>
</div>
{form_error()}
{shown_once("new-link", "New link", "Copy link")}
</section>"""
    body = f"""<p class="breadcrumb"><a href="/console/organizations">Organizations</a></p>
<h1 id="organization-name">Organization</h1>
{status_line("organization-status")}
<dl class="facts" id="organization-facts" hidden>
<div><dt>Organization ID</dt><dd><code id="fact-id"></code></dd></div>
<div><dt>External ID</dt><dd id="fact-external-id"></dd></div>
<div><dt>Created</dt><dd id="fact-created"></dd></div>
<div><dt>May embed the portal</dt><dd id="fact-ancestors"></dd></div>
</dl>
{generate}
<section aria-labelledby="links-heading" class="block">
<h2 id="links-heading">Links</h2>
{status_line("links-status")}
{table("links-table", "Setup links", ["Link", "Kind", "State", "Created", "Expires", "Created by", ""], "No links yet.")}
</section>
<section aria-labelledby="connections-heading" class="block">
<h2 id="connections-heading">SSO connections</h2>
{status_line("connections-status")}
{table("connections-table", "SSO connections", ["Type", "Provider", "Status", "Version", "Certificate expires", "Updated"], "No SSO connection yet: the customer's IT admin sets one up with a setup link.")}
</section>
{confirm_dialog()}"""
    return Page("organization", "Organization", body, section="/console/organizations",
                script={"organization_id": organization_id})


def audit_page() -> Page:
    types = "".join(f'<option value="{e(t)}"></option>' for t in AUDIT_TYPES)
    body = f"""<h1>Audit log</h1>
<form id="audit-filters" class="card filters" novalidate>
<h2 class="visually-hidden">Filters</h2>
{form_error()}
<div class="filter-grid">
{text_field("organization_id", "Organization ID", attrs='placeholder="org_…" autocomplete="off"')}
{text_field("type", "Event type", attrs='list="event-types" placeholder="portico.portal_link.issued" autocomplete="off"')}
<datalist id="event-types">{types}</datalist>
{text_field("actor", "Actor ID", attrs='placeholder="opr_…, key_…, ses_…" autocomplete="off"')}
{text_field("since", "From (your time)", kind="datetime-local", attrs='step="1"')}
{text_field("until", "Until (your time)", kind="datetime-local", attrs='step="1"')}
</div>
<div class="actions"><button type="submit" class="button">Apply filters</button>
<button type="button" class="button secondary" id="clear-filters">Clear filters</button></div>
</form>
<div class="audit-tools">
<section class="card" aria-labelledby="verify-heading">
<h2 id="verify-heading">Verify the chain</h2>
<p class="hint">Recomputes every hash of the organization in the filter (or of the whole log when there is none) and
holds it against the records before it.</p>
<div class="actions"><button type="button" class="button" id="verify-chain">Verify chain</button></div>
<div id="verify-result" role="status" aria-live="polite"></div>
</section>
<section class="card" aria-labelledby="export-heading">
<h2 id="export-heading">Export</h2>
<p class="hint">Every record matching the current filters, streamed as a file.</p>
<div class="actions"><a class="button secondary" id="export-jsonl" href="/console/api/audit/export?format=jsonl" download>Download JSONL</a>
<a class="button secondary" id="export-csv" href="/console/api/audit/export?format=csv" download>Download CSV</a></div>
</section>
</div>
{status_line()}
{table("audit-table", "Audit records", ["#", "Time", "Type", "Organization", "Actor", "Target", ""], "No audit records match these filters.")}
{pager("Audit record")}
<dialog id="record-dialog" class="wide" aria-labelledby="record-title">
<h2 id="record-title">Audit record</h2>
<dl class="record" id="record-fields"></dl>
<div class="actions"><button type="button" class="button secondary" id="record-close">Close</button></div>
</dialog>"""
    return Page("audit", "Audit log", body, section="/console/audit")


def api_keys_page() -> Page:
    body = f"""<h1>API keys</h1>
<p class="lead">Keys let a SaaS backend call the management API. Portico keeps only a hash of each key.</p>
<section class="card" aria-labelledby="create-heading">
<h2 id="create-heading">Create an API key</h2>
<form id="create-form" novalidate>
{form_error()}
{text_field("name", "Name", hint="What uses the key, e.g. billing backend (production).", attrs='required maxlength="200"')}
<div class="actions"><button type="submit" class="button">Create API key</button></div>
</form>
{shown_once("new-key", "New API key", "Copy key")}
</section>
{status_line()}
{table("api-keys-table", "API keys", ["Name", "Key ID", "Created", "Status", ""], "No API keys yet.")}
{confirm_dialog()}"""
    return Page("api-keys", "API keys", body, section="/console/api-keys")


def operators_page() -> Page:
    body = f"""<h1>Operators</h1>
<p class="lead">People who sign in to this console. Support staff manage organizations and links, auditors read the
audit log, administrators do both and manage API keys and operators.</p>
<section class="card" aria-labelledby="create-heading">
<h2 id="create-heading">Add an operator</h2>
<form id="create-form" novalidate>
{form_error()}
<div class="two-columns">
{text_field("email", "Email", kind="email", attrs='required maxlength="254" autocomplete="off"')}
<div class="field"><label for="role">Role</label>
<select id="role" name="role" required><option value="support">Support</option><option value="auditor">Auditor</option>
<option value="admin">Administrator</option></select>
<p class="field-error" id="role-error" hidden></p></div>
</div>
<div class="actions"><button type="submit" class="button">Add operator</button></div>
</form>
{shown_once("one-time-password", "One-time password", "Copy password")}
</section>
{status_line()}
{table("operators-table", "Operators", ["Email", "Role", "Status", "Created", "Last sign-in", ""], "No operators yet.")}
{confirm_dialog()}"""
    return Page("operators", "Operators", body, section="/console/operators")


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
