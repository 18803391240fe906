"""HTML of the console's sections (no I/O): organizations, one organization, the audit log, API keys and
operators. Shells with empty tables and forms; console.js fills them from the console's JSON API."""
from link_issuer.accounts.operators import OperatorPermission as P
from link_issuer.console.views import (
    Page,
    Viewer,
    confirm_dialog,
    form_error,
    pager,
    shown_once,
    status_line,
    table,
    text_field,
)
from portico_events import CATALOGUE, INSTALLATION
from shared.pages import e

# A shareable link lives up to 7 days (the API's limit); the picker offers the lifetimes support staff use.
LINK_LIFETIMES = ((3600, "1 hour"), (8 * 3600, "8 hours"), (86400, "1 day"), (3 * 86400, "3 days"), (7 * 86400, "7 days"))
DEFAULT_LIFETIME = 7 * 86400


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
<section aria-labelledby="sign-ins-heading" class="block">
<h2 id="sign-ins-heading">Recent tests and sign-ins</h2>
{status_line("sign-ins-status")}
{table("sign-ins-table", "Recent tests and sign-ins", ["Started", "Kind", "Connection", "Version", "Result", "User or error", "Took"], SIGN_INS_EMPTY)}
</section>
{confirm_dialog()}"""
    return Page("organization", "Organization", body, section="/console/organizations",
                script={"organization_id": organization_id})


SIGN_INS_EMPTY = "No tests or sign-ins yet: they appear here once the IT admin tests a connection or a user signs in."


def audit_page() -> Page:
    types = "".join(f'<option value="{e(t)}"></option>' for t in CATALOGUE)
    body = f"""<h1>Audit log</h1>
<form id="audit-filters" class="card filters" novalidate>
<h2 class="visually-hidden">Filters</h2>
{form_error()}
<div class="filter-grid">
{text_field("organization_id", "Organization ID", attrs=f'placeholder="org_… or {INSTALLATION}" autocomplete="off"')}
{text_field("type", "Event type", attrs='list="event-types" placeholder="portico.portal_link.issued" autocomplete="off"')}
<datalist id="event-types">{types}</datalist>
{text_field("actor", "Actor ID", attrs='placeholder="opr_…, key_…, ses_…" autocomplete="off"')}
{text_field("since", "From (your time)", kind="datetime-local", attrs='step="1"')}
{text_field("until", "Until (your time)", kind="datetime-local", attrs='step="1"')}
</div>
<p class="hint">Sign-ins, API keys, operators and exports are recorded under the organization ID <code>{INSTALLATION}</code>.</p>
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
