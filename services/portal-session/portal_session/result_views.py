"""HTML of a connection test's result (no I/O): what the IdP sent when the test succeeded, the error, who
must fix it and the expected and actual values when it failed, or a waiting state while it is pending."""
from typing import Any

from portal_session.guides import Guide
from portal_session.views import PageContext, Site, layout
from shared.pages import e

DETAIL_LABELS = {
    "certificate_fingerprint_sha256": "Certificate (SHA-256 fingerprint)",
    "signature_algorithm": "Signature algorithm",
    "digest_algorithm": "Digest algorithm",
    "signed": "What was signed",
    "skew_seconds": "Clock difference (seconds)",
    "verify_ms": "Verification time (ms)",
    "duration_ms": "Total time (ms)",
}


def who_fixes(fix_in: str | None, idp: str, product: str) -> str:
    if fix_in == "identity_provider":
        return f"Your identity provider's admin, in {idp}"
    return f"The connection's settings in {product}: edit its details (or ask the {product} team, the SaaS vendor)"


def _row(label: str, value: str) -> str:
    return f'<div class="value-row"><dt>{e(label)}</dt><dd>{value}</dd></div>'


def _mono(value: object) -> str:
    return f'<span class="mono">{e(value)}</span>' if value not in (None, "") else '<span class="hint">none</span>'


def _raw_value(value: object) -> str:
    values = value if isinstance(value, list) else [value]
    return "<br>".join(_mono(item) for item in values)


def details_rows(details: dict[str, Any] | None) -> str:
    rows = [_row(label, _mono(details[name])) for name, label in DETAIL_LABELS.items()
            if details and details.get(name) is not None]
    return f'<dl class="summary">{"".join(rows)}</dl>' if rows else '<p class="hint">No verification details.</p>'


def _success(test: dict[str, Any], idp: str) -> str:
    profile = test.get("profile") or {}
    groups = profile.get("groups") or []
    rows = [
        _row("Subject (IdP user ID)", _mono(profile.get("idp_id"))),
        _row("Email", _mono(profile.get("email"))),
        _row("First name", _mono(profile.get("first_name"))),
        _row("Last name", _mono(profile.get("last_name"))),
        _row("Groups", "<br>".join(_mono(group) for group in groups) if groups else '<span class="hint">none</span>'),
    ]
    raw = profile.get("raw_attributes") or {}
    raw_rows = "".join(f'<tr><th scope="row" class="mono">{e(name)}</th><td>{_raw_value(value)}</td></tr>'
                       for name, value in sorted(raw.items()))
    return f"""<div class="callout test-succeeded" role="status"><h2>The test sign-in worked</h2>
<p>{e(idp)} signed you in and Portico verified its answer. This is what it sent.</p></div>
<section class="card" aria-labelledby="profile-title"><h2 id="profile-title">The signed-in user</h2>
<dl class="summary" id="test-profile">{"".join(rows)}</dl></section>
<section class="card" aria-labelledby="raw-title"><h2 id="raw-title">Every attribute received ({len(raw)})</h2>
<table class="data-table raw-attributes"><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead>
<tbody>{raw_rows}</tbody></table></section>"""


def _failure(test: dict[str, Any], idp: str, product: str) -> str:
    error = test.get("error") or {}
    rows = [_row("Error code", _mono(error.get("code"))),
            _row("Who must fix it", e(who_fixes(error.get("fix_in"), idp, product)))]
    if "expected" in error:
        rows.append(_row("Expected", _raw_value(error.get("expected"))))
    if "actual" in error:
        rows.append(_row("Received", _raw_value(error.get("actual"))))
    return f"""<div class="callout test-failed" role="alert"><h2>The test sign-in failed</h2>
<p id="test-error-message">{e(error.get("message"))}</p></div>
<section class="card" aria-labelledby="error-title"><h2 id="error-title">What went wrong</h2>
<dl class="summary" id="test-error">{"".join(rows)}</dl></section>"""


def result_page(site: Site, context: PageContext, guide: Guide, connection: dict[str, Any],
                     test: dict[str, Any]) -> str:
    """The result page the IdP's answer lands on (and that a pending test refreshes until it is over)."""
    idp = guide.name
    status = test.get("status", "pending")
    cid = e(connection["id"])
    if status == "succeeded":
        outcome = _success(test, idp)
    elif status == "failed":
        outcome = _failure(test, idp, site.brand.product_name)
    else:
        outcome = (f'<div class="callout" role="status" id="test-pending"><h2>Waiting for {e(idp)}</h2>'
                   f"<p>Sign in at {e(idp)} in the other tab. This page updates by itself.</p></div>")
    verified = "" if status == "pending" else (
        f'<section class="card" aria-labelledby="details-title"><h2 id="details-title">How it was verified</h2>'
        f"{details_rows(test.get('details'))}</section>")
    context.script["test"] = {"id": test.get("id"), "status": status, "connection_id": connection["id"]}
    body = f"""<h1>Test of your {e(idp)} connection</h1>
<p class="meta">Test <span class="mono">{e(test.get("id"))}</span> of connection version {e(test.get("connection_version"))}.</p>
<div id="test-result" data-status="{e(status)}">{outcome}</div>
{verified}
<div class="actions"><a class="button" href="/portal/connections/{cid}/guide">Back to the {e(idp)} guide</a>
<a class="button secondary" href="/portal/connections/{cid}/review">Review the connection</a></div>"""
    return layout(site, context, page="test", title=f"Test of {idp}", body=body)
