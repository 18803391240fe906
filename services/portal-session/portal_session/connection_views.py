"""HTML of the pages about one connection (no I/O): the IdP guide with values to copy, the form for the
IdP's details, review, done, and the page that manages an existing connection."""
from typing import Any

from portal_session.guides import PROTOCOL_NAMES, Guide, copy_value, render_markdown
from portal_session.views import PageContext, Site, changed_by, layout, status_badge, timestamp
from shared.pages import e


def _idp_name(guide: Guide | None, connection: dict[str, Any]) -> str:
    return guide.name if guide else connection["provider"]


SP_VALUE_ORDER = ("acs_url", "entity_id", "metadata_url", "redirect_uri")


def sp_values(connection: dict[str, Any]) -> dict[str, str]:
    """The values the admin copies into their IdP, in the order IdP consoles usually ask for them."""
    given = connection.get("sp") or {}
    ordered = [name for name in SP_VALUE_ORDER if name in given] + [name for name in given if name not in SP_VALUE_ORDER]
    return {name: given[name] for name in ordered if isinstance(given[name], str)}


def sp_values_section(connection: dict[str, Any], idp: str, *, heading: str = "h2") -> str:
    labels = {
        "acs_url": ("ACS URL", "Also called Reply URL, Single sign-on URL or Assertion Consumer Service URL."),
        "entity_id": ("SP entity ID", "Also called Audience URI or Identifier."),
        "metadata_url": ("SP metadata URL", "For providers that can read our settings from a URL."),
        "redirect_uri": ("Redirect URI", "Also called Sign-in redirect URI, Callback URL or Reply URL."),
    }
    rows = []
    for name, value in sp_values(connection).items():
        label, hint = labels.get(name, (name, ""))
        rows.append(f'<div class="value-row"><dt>{e(label)}<span class="hint">{e(hint)}</span></dt>'
                    f"<dd>{copy_value(name, value, block=True)}</dd></div>")
    download = ""
    if connection["type"] == "saml":
        download = (
            f'<p><a class="button secondary" href="/sso/saml/{e(connection["id"])}/metadata" '
            f'download="sp-metadata-{e(connection["id"])}.xml">Download SP metadata (XML)</a></p>'
        )
    return (f'<section class="card sp-values" aria-labelledby="sp-values-title"><{heading} id="sp-values-title">'
            f"Values to copy into {e(idp)}</{heading}><dl>{''.join(rows)}</dl>{download}</section>")


def warnings_list(connection: dict[str, Any]) -> str:
    shown = [w for w in connection.get("warnings", []) if w.get("code") != "incomplete"]
    missing = [w for w in connection.get("warnings", []) if w.get("code") == "incomplete"]
    parts = []
    if shown:
        items = "".join(f'<li data-code="{e(w.get("code"))}">{e(w.get("message"))}</li>' for w in shown)
        parts.append(f'<div class="callout warning" role="region" aria-label="Warnings"><h2>Check this</h2><ul>{items}</ul></div>')
    if missing:
        items = "".join(f"<li>{e(w.get('message'))}</li>" for w in missing)
        parts.append(f'<div class="callout" role="region" aria-label="Missing details"><h2>Still missing</h2><ul>{items}</ul></div>')
    return "".join(parts)


def _row(label: str, value: str) -> str:
    return f'<div class="value-row"><dt>{e(label)}</dt><dd>{value}</dd></div>'


def idp_summary(connection: dict[str, Any]) -> str:
    if connection["type"] == "saml":
        saml = connection.get("saml") or {}
        certificates = "".join(
            f'<li><span class="mono">{e(cert.get("fingerprint_sha256"))}</span><br>'
            f'{e(cert.get("subject"))}, valid until {timestamp(cert.get("not_after"))}</li>'
            for cert in saml.get("certificates", [])
        ) or "<li>none yet</li>"
        rows = [
            _row("IdP entity ID", f'<span class="mono">{e(saml.get("idp_entity_id") or "not set")}</span>'),
            _row("Single sign-on URL", f'<span class="mono">{e(saml.get("sso_url") or "not set")}</span>'
                 + (f' <span class="hint">({e(saml.get("sso_binding"))})</span>' if saml.get("sso_url") else "")),
            _row("Signing certificates", f'<ul class="plain">{certificates}</ul>'),
        ]
        if saml.get("metadata_url"):
            rows.insert(0, _row("Metadata URL", f'<span class="mono">{e(saml["metadata_url"])}</span>'))
    else:
        oidc = connection.get("oidc") or {}
        secret = "not set"
        if oidc.get("client_secret_set"):
            last4 = oidc.get("client_secret_last4")
            secret = f"set, ending in {last4}" if last4 else "set"
        rows = [
            _row("Issuer", f'<span class="mono">{e(oidc.get("issuer") or "not set")}</span>'),
            _row("Client ID", f'<span class="mono">{e(oidc.get("client_id") or "not set")}</span>'),
            _row("Client secret", e(secret)),
            _row("Scopes", e(" ".join(oidc.get("scopes") or []))),
        ]
        if oidc.get("authorization_endpoint"):
            rows.append(_row("Endpoints (from discovery)",
                             f'<ul class="plain mono"><li>{e(oidc.get("authorization_endpoint"))}</li>'
                             f'<li>{e(oidc.get("token_endpoint"))}</li><li>{e(oidc.get("jwks_uri"))}</li></ul>'))
    return f'<dl class="summary">{"".join(rows)}</dl>'


def connection_script(connection: dict[str, Any], guide: Guide | None) -> dict[str, Any]:
    return {
        "connection": {
            "id": connection["id"], "version": connection["version"], "type": connection["type"],
            "provider": connection["provider"], "status": connection["status"],
            "provider_name": _idp_name(guide, connection),
            "has_certificates": bool((connection.get("saml") or {}).get("certificates")),
            "client_secret_set": bool((connection.get("oidc") or {}).get("client_secret_set")),
        }
    }


def _with_connection(context: PageContext, connection: dict[str, Any], guide: Guide | None) -> PageContext:
    context.script.update(connection_script(connection, guide))
    return context


def guide_page(site: Site, context: PageContext, guide: Guide, connection: dict[str, Any]) -> str:
    idp = guide.name
    protocol = connection["type"]
    steps = render_markdown(guide.markdown_for(protocol), sp_values(connection), site.brand.product_name)
    body = f"""<h1>Set up {e(site.brand.product_name)} in {e(idp)}</h1>
<p class="lead">Create an application for {e(site.brand.product_name)} in {e(idp)} with {e(PROTOCOL_NAMES[protocol])}.
Keep this page open: you will paste the values below into {e(idp)}.</p>
{sp_values_section(connection, idp)}
<section class="card guide" aria-labelledby="guide-title"><h2 id="guide-title">Steps in {e(idp)}</h2>
{steps}
</section>
<div class="actions"><a class="button" href="/portal/connections/{e(connection['id'])}/configure">Next: enter {e(idp)}'s details</a>
<a class="button secondary" href="/portal/providers">Choose another provider</a></div>"""
    return layout(site, _with_connection(context, connection, guide), page="guide",
                  title=f"Set up {idp}", body=body, step=2)


def _field(field_id: str, label: str, path: str, *, kind: str = "text", value: str | None = None,
           hint: str = "", extra: str = "") -> str:
    described = f"{field_id}-error" + (f" {field_id}-hint" if hint else "")
    hint_html = f'<p class="hint" id="{field_id}-hint">{e(hint)}</p>' if hint else ""
    attributes = f'id="{field_id}" name="{field_id}" data-field="{e(path)}" aria-describedby="{described}" {extra}'
    if kind == "textarea":
        control = f'<textarea {attributes} rows="8" spellcheck="false">{e(value or "")}</textarea>'
    else:
        value_attribute = f' value="{e(value)}"' if value else ""
        control = f'<input type="{kind}" {attributes}{value_attribute}>'
    return (f'<div class="field"><label for="{field_id}">{e(label)}</label>{hint_html}{control}'
            f'<p class="field-error" id="{field_id}-error" hidden></p></div>')


def _saml_form(guide: Guide, connection: dict[str, Any]) -> str:
    saml = connection.get("saml") or {}
    idp = guide.name
    source = "url" if saml.get("metadata_url") else guide.saml_source
    options = (("url", "Metadata URL", "We download it now and can refresh it later."),
               ("xml", "Upload the metadata file", f"The XML file {idp} lets you download."),
               ("fields", "Enter the values one by one", "Entity ID, single sign-on URL and certificate."))
    radios = "".join(
        f'<div class="choice"><label><input type="radio" name="source" value="{value}" '
        f'aria-describedby="source-{value}-hint"{" checked" if value == source else ""}> {e(label)}</label> '
        f'<span class="hint" id="source-{value}-hint">{e(hint)}</span></div>'
        for value, label, hint in options
    )
    current = saml.get("certificates") or []
    certificate_hint = "Paste the PEM block(s), from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----."
    if current:
        certificate_hint += f" Leave empty to keep the {len(current)} current certificate{'s' if len(current) > 1 else ''}."
    return f"""<fieldset><legend>How do you want to give us {e(idp)}'s details?</legend>{radios}</fieldset>
<div class="source" data-source="url">
{_field("saml-metadata-url", "Metadata URL", "saml.metadata_url", kind="url", value=saml.get("metadata_url"),
        hint=f"The address of {idp}'s SAML metadata, starting with https://.", extra='autocomplete="off" inputmode="url"')}
</div>
<div class="source" data-source="xml">
{_field("saml-metadata-file", "Metadata file (XML)", "saml.metadata_xml", kind="file",
        hint="Choose the metadata XML file you downloaded.", extra='accept=".xml,text/xml,application/xml,application/samlmetadata+xml"')}
</div>
<div class="source" data-source="fields">
{_field("saml-idp-entity-id", "IdP entity ID", "saml.idp_entity_id", value=saml.get("idp_entity_id"),
        hint="Also called Issuer or Identity provider issuer.", extra='autocomplete="off"')}
{_field("saml-sso-url", "Single sign-on URL", "saml.sso_url", kind="url", value=saml.get("sso_url"),
        hint="Also called SSO URL, Login URL or SAML 2.0 endpoint (HTTP-Redirect or HTTP-POST).", extra='autocomplete="off"')}
{_field("saml-certificates", "Signing certificate", "saml.certificates", kind="textarea", hint=certificate_hint)}
</div>"""


def _oidc_form(guide: Guide, connection: dict[str, Any]) -> str:
    oidc = connection.get("oidc") or {}
    secret_hint = "Shown once by most providers when you create the secret."
    if oidc.get("client_secret_set"):
        last4 = oidc.get("client_secret_last4")
        secret_hint = ("A secret is saved" + (f" (ending in {last4})" if last4 else "")
                       + ". Leave empty to keep it.")
    return f"""{_field("oidc-issuer", "Issuer URL", "oidc.issuer", kind="url", value=oidc.get("issuer"),
        hint="We read its discovery document at <issuer>/.well-known/openid-configuration.", extra='autocomplete="off"')}
{_field("oidc-client-id", "Client ID", "oidc.client_id", value=oidc.get("client_id"), extra='autocomplete="off"')}
{_field("oidc-client-secret", "Client secret", "oidc.client_secret", kind="password", hint=secret_hint,
        extra='autocomplete="new-password"')}
{_field("oidc-scopes", "Scopes", "oidc.scopes", value=" ".join(oidc.get("scopes") or ["openid", "email", "profile"]),
        hint="Separated by spaces; must include openid.", extra='autocomplete="off"')}"""


def configure_page(site: Site, context: PageContext, guide: Guide, connection: dict[str, Any]) -> str:
    idp = guide.name
    form = _saml_form(guide, connection) if connection["type"] == "saml" else _oidc_form(guide, connection)
    body = f"""<h1>Enter {e(idp)}'s details</h1>
<p class="lead">We check everything you enter and tell you exactly what to fix.</p>
<form id="connection-form" class="card" data-type="{e(connection['type'])}" novalidate>
<div class="form-error" id="form-error" role="alert" tabindex="-1" hidden></div>
{form}
<div class="actions"><button type="submit" class="button">Save and continue</button>
<a class="button secondary" href="/portal/connections/{e(connection['id'])}/guide">Back to the guide</a></div>
</form>"""
    return layout(site, _with_connection(context, connection, guide), page="configure",
                  title=f"Enter {idp}'s details", body=body, step=3)


def connection_test_step(idp: str) -> str:
    """The guide's last step before Enable: one real sign-in at the IdP, its outcome shown here (portal.js)."""
    return f"""<section class="card test-step" aria-labelledby="test-title"><h2 id="test-title">Test connection</h2>
<p>Sign in once at {e(idp)} as yourself, in a new tab. Nobody is signed in to anything: you see exactly what
{e(idp)} sends, or what is wrong and who can fix it.</p>
<div class="actions"><button type="button" class="button" id="test-connection">Test connection</button>
<a class="button secondary" id="test-open" target="_blank" rel="noopener" hidden>Open the sign-in in a new tab</a></div>
<div id="test-outcome" aria-live="polite"></div>
</section>"""


def _enable_hint(connection: dict[str, Any]) -> str:
    if connection["status"] == "enabled":
        return ""
    if connection.get("tested"):
        return '<p class="hint" id="enable-hint">These details have passed a test.</p>'
    return '<p class="hint" id="enable-hint">Enable becomes available once a test of these details succeeds.</p>'


def review_page(site: Site, context: PageContext, guide: Guide, connection: dict[str, Any]) -> str:
    idp = guide.name
    status = connection["status"]
    test_step = ""
    if status == "enabled":
        action = f'<a class="button" href="/portal/connections/{e(connection["id"])}/done">Continue</a>'
    else:
        # Offered once the current details have passed a test (now, or before a disable: `tested`); portal.js turns
        # it on when a test passes here. The API refuses it otherwise (409 connection_not_tested).
        disabled = "" if connection.get("tested") else " disabled"
        action = (f'<button type="button" class="button" id="enable-connection" aria-describedby="enable-hint"{disabled}>'
                  'Enable single sign-on</button>')
        test_step = connection_test_step(idp) if status != "draft" else ""
    body = f"""<h1>Review your {e(idp)} connection</h1>
<p class="lead">{status_badge(status)} {"Everything needed is here." if status != "draft" else "Some details are still missing."}</p>
<div class="form-error" id="form-error" role="alert" tabindex="-1" hidden></div>
{warnings_list(connection)}
<section class="card" aria-labelledby="idp-title"><h2 id="idp-title">{e(idp)} ({e(PROTOCOL_NAMES[connection['type']])})</h2>
{idp_summary(connection)}</section>
{test_step}
<div class="actions">{action}
<a class="button secondary" href="/portal/connections/{e(connection['id'])}/configure">Edit details</a></div>
{_enable_hint(connection)}"""
    return layout(site, _with_connection(context, connection, guide), page="review",
                  title=f"Review {idp}", body=body, step=4)


def done_page(site: Site, context: PageContext, guide: Guide, connection: dict[str, Any], *, magic: bool) -> str:
    idp = guide.name
    organization = context.organization_name or "your organization"
    ends = "<p class=\"hint\">Finishing ends this setup session; the link you used will not work again.</p>" if magic else ""
    body = f"""<section class="card message" id="done">
<h1>Single sign-on with {e(idp)} is on</h1>
<p>People at {e(organization)} can now sign in to {e(site.brand.product_name)} with {e(idp)}. Only people
assigned to the {e(site.brand.product_name)} application in {e(idp)} can sign in.</p>
{warnings_list(connection)}
<div class="form-error" id="form-error" role="alert" tabindex="-1" hidden></div>
<div class="actions"><button type="button" class="button" id="finish-setup">Finish setup</button>
<a class="button secondary" href="/portal/">Back to your connections</a></div>
{ends}
</section>
<section class="card message" id="finished" tabindex="-1" hidden>
<h1>Setup complete</h1>
<p>Thank you. You can close this window.</p>
</section>"""
    return layout(site, _with_connection(context, connection, guide), page="done", title="Single sign-on is on", body=body)


def manage_page(site: Site, context: PageContext, guide: Guide | None, connection: dict[str, Any], session_id: str) -> str:
    idp = _idp_name(guide, connection)
    status = connection["status"]
    cid = e(connection["id"])
    toggle = ""
    if status == "enabled":
        toggle = '<button type="button" class="button secondary" id="disable-connection">Disable</button>'
    elif status in ("configured", "disabled"):  # enabling goes through a test of the current version
        toggle = f'<a class="button" href="/portal/connections/{cid}/review">Test and enable</a>'
    who = changed_by(connection.get("updated_by"), session_id, site.brand.product_name)
    guide_link = f'<a class="button secondary" href="/portal/connections/{cid}/guide">View the guide</a>' if guide else ""
    body = f"""<h1>{e(idp)} ({e(PROTOCOL_NAMES.get(connection['type'], connection['type']))})</h1>
<p class="lead">{status_badge(status)}</p>
<p class="meta">Version {e(connection['version'])}, last changed {timestamp(connection.get('updated_at'))} by {e(who)}.</p>
<div class="form-error" id="form-error" role="alert" tabindex="-1" hidden></div>
{warnings_list(connection)}
<section class="card" aria-labelledby="idp-title"><h2 id="idp-title">{e(idp)} details</h2>
{idp_summary(connection)}</section>
{sp_values_section(connection, idp)}
<div class="actions">{toggle}
<a class="button secondary" href="/portal/connections/{cid}/configure">Edit details</a>
{guide_link}
<button type="button" class="button danger" id="delete-connection">Delete</button></div>
<p><a href="/portal/">Back to your connections</a></p>
<dialog id="delete-dialog" aria-labelledby="delete-title">
<h2 id="delete-title">Delete this connection?</h2>
<p>People will no longer be able to sign in to {e(site.brand.product_name)} with {e(idp)} through it. Its history is kept.</p>
<div class="actions"><button type="button" class="button danger" id="confirm-delete">Delete connection</button>
<button type="button" class="button secondary" id="cancel-delete">Cancel</button></div>
</dialog>"""
    return layout(site, _with_connection(context, connection, guide), page="manage", title=f"{idp} connection", body=body)
