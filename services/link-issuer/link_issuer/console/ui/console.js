/* Portico operator console: fills the server-rendered page shells from the console JSON API (/console/api)
   with plain JavaScript (no build step). State-changing calls carry the session's CSRF token. The server
   checks the operator's role for every page and every call; this script only hides what the role cannot use. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("console-config").textContent);
  const permissions = new Set(config.permissions || []);
  const PAGE_SIZE = 50;
  const PROVIDERS = {
    okta: "Okta", entra_id: "Microsoft Entra ID", google_workspace: "Google Workspace", onelogin: "OneLogin",
    jumpcloud: "JumpCloud", ping: "PingOne / PingFederate", adfs: "ADFS", auth0: "Auth0", keycloak: "Keycloak",
    generic_saml: "Generic SAML", generic_oidc: "Generic OIDC",
  };
  const CONNECTION_STATUS = { draft: "Details missing", configured: "Ready to enable", enabled: "Enabled", disabled: "Disabled" };
  const LINK_STATE = { live: "Live", used: "Used", expired: "Expired", revoked: "Revoked" };
  const SIGN_INS_EMPTY = "No tests or sign-ins yet: they appear here once the IT admin tests a connection or a user signs in.";
  const ATTEMPT_STATUS = { pending: "Pending", succeeded: "Succeeded", failed: "Failed" };
  const FIX_IN = { identity_provider: "their IdP admin fixes it", portico: "fixed in the connection's settings" };
  const ROLE_NAMES = { admin: "Administrator", support: "Support", auditor: "Auditor" };

  // Small helpers ---------------------------------------------------------------------------------

  const byId = (id) => document.getElementById(id);

  function announce(text) {
    const region = byId("announcer");
    region.textContent = "";
    window.setTimeout(() => { region.textContent = text; }, 50);
  }

  function say(id, text) {
    const node = byId(id);
    if (node) node.textContent = text;
  }

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([name, value]) => {
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    children.flat().forEach((child) => {
      if (child === null || child === undefined) return;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function time(value) {
    if (!value) return el("span", { className: "meta", text: "—" });
    const moment = new Date(value);
    if (isNaN(moment.getTime())) return document.createTextNode(value);
    return el("time", { datetime: value, title: value },
      moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }));
  }

  /* Who made a row (`operator:opr_…`, `api_key:key_…`) in words. */
  function maker(reference) {
    if (!reference) return el("span", { className: "meta", text: "—" });
    const [kind, id] = reference.split(/:(.*)/s);
    if (kind === "operator" && config.operator && id === config.operator.id) return "you";
    const names = { operator: "operator", api_key: "API key", system: "Portico" };
    return el("span", {}, `${names[kind] || kind} `, id ? el("code", {}, id) : "");
  }

  function badge(kind, value, label) {
    return el("span", { className: `badge ${kind}-${value}` }, label || value);
  }

  function query(params) {
    const search = new URLSearchParams();
    Object.entries(params).forEach(([name, value]) => {
      if (value !== null && value !== undefined && value !== "") search.set(name, value);
    });
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  /* A path inside the console to return to after signing in, or null: never another origin. */
  function safeNext(value) {
    return value && /^\/console\/[A-Za-z0-9/_-]*$/.test(value) && !value.startsWith("/console/sign-in") ? value : null;
  }

  // The console API -------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, error) {
      super(error.message || "Something went wrong.");
      this.status = status;
      this.code = error.code || "error";
      this.field = error.field || null;
    }
  }

  let csrfToken = null;

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const signingIn = method === "POST" && path === "/console/api/session";  // no session yet, so no token
    if (method !== "GET" && !signingIn) {
      if (csrfToken === null) csrfToken = (await call("GET", "/console/api/session")).csrf_token;
      headers["X-CSRF-Token"] = csrfToken;
    }
    let response;
    try {
      response = await fetch(path, {
        method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (failure) {
      throw new ApiError(0, { code: "unreachable", message: "Portico could not be reached. Check your connection and try again." });
    }
    if (response.status === 204) return null;
    let answer = null;
    try { answer = await response.json(); } catch (failure) { answer = null; }
    if (response.ok) return answer;
    const error = (answer && answer.error) || { code: "http_" + response.status, message: `The server answered ${response.status}.` };
    if (config.page !== "sign-in") {
      if (response.status === 401 && path !== "/console/api/password") {
        window.location.assign("/console/sign-in" + query({ next: window.location.pathname }));
      } else if (response.status === 403 && error.code === "password_change_required" && config.page !== "password") {
        window.location.assign("/console/password");
      }
    }
    throw new ApiError(response.status, error);
  }

  // Forms and errors ------------------------------------------------------------------------------

  function clearErrors(form) {
    form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
    form.querySelectorAll(".field-error").forEach((node) => { node.hidden = true; node.textContent = ""; });
    const summary = form.querySelector(".form-error") || form.parentElement.querySelector(".form-error");
    if (summary) { summary.hidden = true; summary.textContent = ""; }
  }

  /* Under the field the API named (in the API's words), else at the top of the form; focus goes there. */
  function showError(form, error) {
    const name = error.field ? error.field.split(".")[0] : null;
    const input = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
    const fieldError = name ? byId(`${name}-error`) : null;
    if (input && fieldError) {
      input.setAttribute("aria-invalid", "true");
      const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (!described.includes(fieldError.id)) input.setAttribute("aria-describedby", described.concat(fieldError.id).join(" "));
      fieldError.textContent = error.message;
      fieldError.hidden = false;
      input.focus();
      return;
    }
    const summary = form.querySelector(".form-error") || form.parentElement.querySelector(".form-error");
    summary.textContent = error.message;
    summary.hidden = false;
    summary.focus();
  }

  function fieldError(form, name, message) {
    showError(form, { field: name, message });
  }

  /* Runs `action` with the submit button disabled, showing any API error on the form. */
  async function submitting(form, button, action) {
    clearErrors(form);
    if (button) button.disabled = true;
    try {
      await action();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  }

  function showOnce(boxId, title, value, detail) {
    say(`${boxId}-title`, title);
    say(`${boxId}-value`, value);
    const detailNode = byId(`${boxId}-detail`);
    detailNode.replaceChildren(...(detail || []));
    const box = byId(boxId);
    box.hidden = false;
    box.querySelector("button.copy").textContent = box.querySelector("button.copy").dataset.label;
    box.focus();
  }

  // Copy buttons ----------------------------------------------------------------------------------

  document.querySelectorAll("button.copy").forEach((button) => { button.dataset.label = button.textContent; });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy[data-copy]");
    if (!button) return;
    const text = byId(button.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (failure) {
      const range = document.createRange();
      range.selectNodeContents(byId(button.dataset.copy));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    announce("Copied to the clipboard.");
    window.setTimeout(() => { button.textContent = button.dataset.label; }, 4000);
  });

  // Confirmation ----------------------------------------------------------------------------------

  /* A modal question; resolves true when confirmed. Escape or Cancel resolves false. Focus goes back to
     the control that asked. */
  function confirmAction(title, text, confirmLabel) {
    const dialog = byId("confirm-dialog");
    const opener = document.activeElement;
    say("confirm-title", title);
    say("confirm-text", text);
    say("confirm-yes", confirmLabel);
    return new Promise((resolve) => {
      const finish = (answer) => {
        byId("confirm-yes").onclick = null;
        byId("confirm-no").onclick = null;
        dialog.onclose = null;
        if (dialog.open) dialog.close();
        if (opener && document.contains(opener)) opener.focus();
        resolve(answer);
      };
      byId("confirm-yes").onclick = () => finish(true);
      byId("confirm-no").onclick = () => finish(false);
      dialog.onclose = () => finish(false);
      dialog.showModal();
      byId("confirm-no").focus();
    });
  }

  // Tables ----------------------------------------------------------------------------------------

  /* Fills a table (rows of cells) or shows its empty state. Each cell carries its column's name, which
     the narrow layout shows beside the value. */
  function fillTable(tableId, rows, emptyText) {
    const table = byId(tableId);
    const labels = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    const body = table.querySelector("tbody");
    body.replaceChildren(...rows.map((cells) => el("tr", {}, cells.map((cell, index) => {
      const header = index === 0;
      return el(header ? "th" : "td", { scope: header ? "row" : null, "data-label": labels[index] }, cell);
    }))));
    table.hidden = rows.length === 0;
    const empty = byId(`${tableId}-empty`);
    if (emptyText) empty.textContent = emptyText;
    empty.hidden = rows.length !== 0;
  }

  /* Cursor paging: the API gives the next page's cursor; the cursors of the pages before are kept here.
     `load(cursor, latest)` renders one page; it must render nothing once `latest()` is false (a newer
     search or page was asked for while it waited), so a slow answer never overwrites a newer one. */
  class Pager {
    constructor(load) {
      this.load = load;
      this.ticket = 0;
      this.previous = [];
      this.current = null;
      this.next = null;
      this.previousButton = document.querySelector('[data-pager="previous"]');
      this.nextButton = document.querySelector('[data-pager="next"]');
      this.previousButton.addEventListener("click", () => this.go(this.previous.pop() || null, false));
      this.nextButton.addEventListener("click", () => {
        this.previous.push(this.current);
        this.go(this.next, true);
      });
    }

    reset() { this.previous = []; return this.go(null); }

    async go(cursor, forward) {
      const ticket = ++this.ticket;
      this.current = cursor;
      this.previousButton.disabled = this.nextButton.disabled = true;
      const nextCursor = await this.load(cursor, () => ticket === this.ticket);
      if (ticket !== this.ticket) return;
      this.next = nextCursor || null;
      this.previousButton.disabled = this.previous.length === 0;
      this.nextButton.disabled = this.next === null;
      // Keep keyboard focus on the pager when the button just used is now disabled (first or last page).
      if (forward !== undefined) {
        const used = forward ? this.nextButton : this.previousButton;
        const other = forward ? this.previousButton : this.nextButton;
        if (used.disabled && !other.disabled) other.focus();
      }
    }

    position(count) {
      const first = this.previous.length * PAGE_SIZE + 1;
      return count ? `${first}–${first + count - 1}` : "";
    }
  }

  // Every page ------------------------------------------------------------------------------------

  const signOut = byId("sign-out");
  if (signOut) {
    signOut.addEventListener("click", async () => {
      signOut.disabled = true;
      try { await call("DELETE", "/console/api/session"); } catch (error) { /* signed out either way */ }
      window.location.assign("/console/sign-in");
    });
  }

  // Sign-in ---------------------------------------------------------------------------------------

  function signInPage() {
    const form = byId("sign-in-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      submitting(form, button, async () => {
        const email = form.email.value.trim();
        if (!email) return fieldError(form, "email", "Enter your email address.");
        if (!form.password.value) return fieldError(form, "password", "Enter your password.");
        const answer = await call("POST", "/console/api/session", { email, password: form.password.value });
        csrfToken = answer.csrf_token;
        announce("Signed in.");
        const next = safeNext(new URLSearchParams(window.location.search).get("next"));
        window.location.assign(answer.operator.must_change_password ? "/console/password" : next || "/console/");
      }).then(() => { if (form.querySelector(".form-error:not([hidden])")) form.password.value = ""; });
    });
  }

  // Password --------------------------------------------------------------------------------------

  function passwordPage() {
    const form = byId("password-form");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitting(form, form.querySelector("button[type=submit]"), async () => {
        if (!form.current_password.value) return fieldError(form, "current_password", "Enter your current password.");
        if (form.new_password.value.length < 12) return fieldError(form, "new_password", "Choose a password of at least 12 characters.");
        if (form.new_password.value !== form.confirm_password.value) {
          return fieldError(form, "confirm_password", "The two new passwords differ: type the same one twice.");
        }
        await call("POST", "/console/api/password", {
          current_password: form.current_password.value, new_password: form.new_password.value,
        });
        announce("Password changed.");
        window.location.assign("/console/");
      });
    });
  }

  // Organizations ---------------------------------------------------------------------------------

  function organizationsPage() {
    const params = new URLSearchParams(window.location.search);
    const search = byId("search-form");
    let q = params.get("q") || "";
    search.q.value = q;

    const pager = new Pager(async (cursor, latest) => {
      say("results-status", "Loading…");
      try {
        const answer = await call("GET", "/console/api/organizations" + query({ q, cursor, limit: PAGE_SIZE }));
        if (!latest()) return null;
        const rows = answer.organizations.map((organization) => [
          el("a", { href: `/console/organizations/${encodeURIComponent(organization.id)}` }, organization.display_name),
          organization.external_id || el("span", { className: "meta", text: "—" }),
          el("code", {}, organization.id),
          time(organization.created_at),
        ]);
        const empty = q ? `No organization matches “${q}”.` : "No organizations yet. Create the first one.";
        fillTable("organizations-table", rows, empty);
        const count = rows.length;
        say("results-status", count
          ? `Organizations ${pager.position(count)}${q ? ` matching “${q}”` : ""}, newest first.`
          : (q ? "Nothing found." : ""));
        return answer.next_cursor;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (latest()) say("results-status", error.message);
        return null;
      }
    });

    search.addEventListener("submit", (event) => {
      event.preventDefault();
      q = search.q.value.trim();
      window.history.replaceState(null, "", window.location.pathname + query({ q }));
      pager.reset();
    });
    pager.reset();

    const show = byId("show-create");
    if (!show) return;
    const card = byId("create-card");
    const form = byId("create-form");
    const toggle = (open) => {
      card.hidden = !open;
      show.setAttribute("aria-expanded", String(open));
      if (open) form.display_name.focus(); else show.focus();
    };
    show.addEventListener("click", () => toggle(card.hidden));
    byId("cancel-create").addEventListener("click", () => toggle(false));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitting(form, form.querySelector("button[type=submit]"), async () => {
        const name = form.display_name.value.trim();
        if (!name) return fieldError(form, "display_name", "Enter the organization's name.");
        const body = { display_name: name };
        if (form.external_id.value.trim()) body.external_id = form.external_id.value.trim();
        const origins = form.allowed_frame_ancestors.value.split(/\s+/).filter(Boolean);
        if (origins.length) body.allowed_frame_ancestors = origins;
        const answer = await call("POST", "/console/api/organizations", body);
        window.location.assign(`/console/organizations/${encodeURIComponent(answer.organization.id)}?created=1`);
      });
    });
  }

  // One organization ------------------------------------------------------------------------------

  function organizationPage() {
    const id = config.organization_id;
    const base = `/console/api/organizations/${encodeURIComponent(id)}`;
    const mayWrite = permissions.has("links.write");

    async function loadOrganization() {
      try {
        const { organization } = await call("GET", base);
        say("organization-name", organization.display_name);
        document.title = `${organization.display_name} · Portico console`;
        say("fact-id", organization.id);
        byId("fact-external-id").replaceChildren(organization.external_id || el("span", { className: "meta", text: "none" }));
        byId("fact-created").replaceChildren(time(organization.created_at));
        const ancestors = organization.allowed_frame_ancestors || [];
        byId("fact-ancestors").replaceChildren(ancestors.length ? ancestors.join(", ") : el("span", { className: "meta", text: "nobody (not embeddable)" }));
        byId("organization-facts").hidden = false;
        if (new URLSearchParams(window.location.search).has("created")) {
          say("organization-status", "Organization created.");
          window.history.replaceState(null, "", window.location.pathname);
        }
        return true;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say("organization-name", error.status === 404 ? "Organization not found" : "Organization unavailable");
        say("organization-status", error.status === 404 ? "No organization has this ID." : error.message);
        document.querySelectorAll("main section").forEach((section) => { section.hidden = true; });
        return false;
      }
    }

    async function loadLinks() {
      try {
        const { links } = await call("GET", `${base}/links`);
        fillTable("links-table", links.map((link) => {
          const action = mayWrite && link.state === "live"
            ? el("button", { type: "button", className: "button danger small", "data-revoke": link.id, "data-kind": link.kind },
              "Revoke", el("span", { className: "visually-hidden" }, ` link ${link.id}`))
            : "";
          return [
            el("code", {}, link.id),
            link.kind === "magic" ? "Magic" : "Shareable",
            badge("state", link.state, LINK_STATE[link.state]),
            time(link.created_at),
            time(link.expire_time),
            maker(link.created_by),
            action,
          ];
        }), "No links yet.");
        say("links-status", links.length ? `${links.length} link${links.length === 1 ? "" : "s"}, newest first.` : "");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say("links-status", error.message);
      }
    }

    async function loadConnections() {
      try {
        const { connections } = await call("GET", `${base}/connections`);
        const soon = Date.now() + 30 * 86400 * 1000;
        fillTable("connections-table", connections.map((connection) => {
          const expires = connection.certificate_expires_at;
          const expiry = expires
            ? el("span", {}, time(expires), Date.parse(expires) < soon ? el("span", { className: "warning-text" }, " (soon)") : "")
            : el("span", { className: "meta", text: connection.type === "saml" ? "—" : "n/a (OIDC)" });
          return [
            connection.type === "saml" ? "SAML" : connection.type === "oidc" ? "OIDC" : connection.type,
            PROVIDERS[connection.provider] || connection.provider,
            badge("badge", connection.status, CONNECTION_STATUS[connection.status]),
            String(connection.version),
            expiry,
            time(connection.updated_at),
          ];
        }), "No SSO connection yet: the customer's IT admin sets one up with a setup link.");
        say("connections-status", "");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say("connections-status", error.message);
      }
    }

    /* The organization's latest attempts over all its connections (connection-config keeps them). */
    async function loadSignIns() {
      try {
        const { sign_ins: attempts } = await call("GET", `${base}/sign_ins${query({ limit: 20 })}`);
        fillTable("sign-ins-table", attempts.map((attempt) => {
          let outcome = el("span", { className: "meta", text: "—" });
          if (attempt.status === "succeeded") outcome = attempt.email || attempt.subject || "";
          if (attempt.status === "failed") {
            outcome = el("span", {}, el("code", {}, attempt.error_code || "failed"),
              attempt.fix_in ? el("span", { className: "meta" }, ` (${FIX_IN[attempt.fix_in] || attempt.fix_in})`) : "");
          }
          return [
            time(attempt.created_at),
            attempt.kind === "test" ? "Test" : "Sign-in",
            el("code", {}, attempt.connection_id),
            String(attempt.connection_version),
            badge("attempt", attempt.status, ATTEMPT_STATUS[attempt.status]),
            outcome,
            attempt.duration_ms === null || attempt.duration_ms === undefined ? "—" : `${attempt.duration_ms} ms`,
          ];
        }), SIGN_INS_EMPTY);
        say("sign-ins-status", attempts.length ? "The latest 20 at most, newest first." : "");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say("sign-ins-status", error.message);
      }
    }

    async function generate(button, body) {
      const card = byId("generate-card");
      await submitting(card, button, async () => {
        const { link } = await call("POST", `${base}/links`, body);
        const kind = link.kind === "magic" ? "magic" : "shareable";
        showOnce("new-link", `New ${kind} link`, link.location, ["Expires ", time(link.expire_time), "."]);
        announce(`New ${kind} link ready to copy.`);
        await loadLinks();
      });
    }

    if (mayWrite) {
      byId("generate-magic").addEventListener("click", (event) => generate(event.currentTarget, { kind: "magic" }));
      byId("generate-shareable").addEventListener("click", (event) => generate(event.currentTarget, {
        kind: "shareable", expires_in_seconds: Number(byId("lifetime").value),
      }));
      byId("links-table").addEventListener("click", async (event) => {
        const button = event.target.closest("button[data-revoke]");
        if (!button) return;
        const linkId = button.dataset.revoke;
        const consequence = button.dataset.kind === "shareable"
          ? "Nobody can open the setup with it any more, and the setup sessions opened with it end now."
          : "Nobody can open the setup with it any more.";
        if (!(await confirmAction(`Revoke link ${linkId}?`, consequence, "Revoke link"))) return;
        button.disabled = true;
        try {
          await call("DELETE", `${base}/links/${encodeURIComponent(linkId)}`);
          await loadLinks();
          say("links-status", `Link ${linkId} revoked.`);
          byId("links-heading").setAttribute("tabindex", "-1");
          byId("links-heading").focus();
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          button.disabled = false;
          say("links-status", error.message);
        }
      });
    }

    loadOrganization().then((found) => { if (found) { loadLinks(); loadConnections(); loadSignIns(); } });
  }

  // Audit log -------------------------------------------------------------------------------------

  const FILTERS = ["organization_id", "type", "actor", "since", "until"];

  function auditPage() {
    const form = byId("audit-filters");
    const params = new URLSearchParams(window.location.search);
    let records = [];

    // The URL keeps times in UTC (RFC 3339); the inputs show them in the operator's own time zone.
    const toInput = (value) => {
      const moment = new Date(value);
      if (isNaN(moment.getTime())) return "";
      return new Date(moment.getTime() - moment.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    };
    const fromInput = (value) => (value ? new Date(value).toISOString() : "");
    FILTERS.forEach((name) => {
      const value = params.get(name) || "";
      form[name].value = name === "since" || name === "until" ? (value ? toInput(value) : "") : value;
    });

    const filters = () => {
      const values = {};
      FILTERS.forEach((name) => {
        const raw = form[name].value.trim();
        values[name] = name === "since" || name === "until" ? fromInput(raw) : raw;
      });
      return values;
    };

    let current = filters();
    const exportLinks = () => {
      byId("export-jsonl").href = "/console/api/audit/export" + query({ format: "jsonl", ...current });
      byId("export-csv").href = "/console/api/audit/export" + query({ format: "csv", ...current });
    };

    const actorCell = (actor) => (actor
      ? el("span", {}, actor.kind, actor.id ? [el("br"), el("code", {}, actor.id)] : null)
      : el("span", { className: "meta", text: "—" }));

    const pager = new Pager(async (cursor, latest) => {
      say("results-status", "Loading…");
      try {
        const answer = await call("GET", "/console/api/audit/events" + query({ ...current, cursor, limit: PAGE_SIZE }));
        if (!latest()) return null;
        records = answer.events;
        fillTable("audit-table", records.map((record, index) => [
          String(record.sequence),
          time(record.time),
          el("code", { className: "event-type" }, record.type),
          el("code", {}, record.organization_id),
          actorCell(record.actor),
          record.target ? el("code", {}, record.target) : el("span", { className: "meta", text: "—" }),
          el("button", { type: "button", className: "button secondary small", "data-record": String(index) },
            "Open", el("span", { className: "visually-hidden" }, ` record ${record.sequence}`)),
        ]), "No audit records match these filters.");
        say("results-status", records.length ? `Records ${pager.position(records.length)}.` : "No records.");
        return answer.next_cursor;
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (!latest()) return null;
        if (error.field) showError(form, error);
        say("results-status", error.message);
        fillTable("audit-table", [], "No audit records shown.");
        return null;
      }
    });

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearErrors(form);
      current = filters();
      window.history.replaceState(null, "", window.location.pathname + query(current));
      exportLinks();
      pager.reset();
    });
    byId("clear-filters").addEventListener("click", () => {
      FILTERS.forEach((name) => { form[name].value = ""; });
      form.requestSubmit();
    });

    byId("audit-table").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-record]");
      if (button) openRecord(records[Number(button.dataset.record)], button);
    });

    byId("verify-chain").addEventListener("click", async (event) => {
      const button = event.currentTarget;
      const organization = form.organization_id.value.trim();
      const result = byId("verify-result");
      result.className = "verify";
      result.textContent = "Verifying…";
      button.disabled = true;
      try {
        const report = await call("GET", "/console/api/audit/verify" + query({ organization_id: organization }));
        const scope = organization ? `organization ${organization}` : "the whole log";
        if (report.ok) {
          result.className = "verify ok";
          result.replaceChildren(el("strong", {}, "Chain intact."),
            ` ${report.checked} record${report.checked === 1 ? "" : "s"} of ${scope} checked; none was altered, removed or reordered.`);
        } else {
          const broken = report.first_broken || {};
          result.className = "verify broken";
          result.replaceChildren(el("strong", {}, "Chain broken."),
            ` In ${scope}, the first record that does not match is #${broken.sequence !== undefined ? broken.sequence : "?"}`,
            broken.reason ? `: ${broken.reason}.` : ".", ` ${report.checked} records checked.`);
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        result.className = "verify broken";
        result.textContent = error.message;
      } finally {
        button.disabled = false;
      }
    });

    exportLinks();
    pager.reset();
  }

  function openRecord(record, opener) {
    const dialog = byId("record-dialog");
    say("record-title", `Audit record #${record.sequence}`);
    const rows = [];
    const add = (name, value) => {
      let shown;
      if (value === null || value === undefined || value === "") shown = el("span", { className: "meta", text: "—" });
      else if (typeof value === "object") shown = el("pre", {}, JSON.stringify(value, null, 2));
      else shown = el("code", {}, String(value));
      rows.push(el("div", {}, el("dt", {}, name), el("dd", {}, shown)));
    };
    Object.entries(record).forEach(([name, value]) => {
      if (name === "actor" && value && typeof value === "object") {
        Object.entries(value).forEach(([part, partValue]) => add(`actor.${part}`, partValue));
      } else {
        add(name, value);
      }
    });
    byId("record-fields").replaceChildren(...rows);
    byId("record-close").onclick = () => dialog.close();
    dialog.onclose = () => { if (document.contains(opener)) opener.focus(); };
    dialog.showModal();
    byId("record-close").focus();
  }

  // API keys --------------------------------------------------------------------------------------

  function apiKeysPage() {
    const form = byId("create-form");

    async function load() {
      try {
        const { api_keys: keys } = await call("GET", "/console/api/api-keys");
        fillTable("api-keys-table", keys.map((key) => [
          key.name,
          el("code", {}, key.id),
          time(key.created_at),
          key.revoked_at ? el("span", {}, badge("state", "revoked", "Revoked"), " ", time(key.revoked_at)) : badge("state", "live", "Active"),
          key.revoked_at ? "" : el("button", { type: "button", className: "button danger small", "data-revoke": key.id, "data-name": key.name },
            "Revoke", el("span", { className: "visually-hidden" }, ` key ${key.name}`)),
        ]), "No API keys yet.");
        say("results-status", `${keys.length} key${keys.length === 1 ? "" : "s"}.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say("results-status", error.message);
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitting(form, form.querySelector("button[type=submit]"), async () => {
        const name = form.name.value.trim();
        if (!name) return fieldError(form, "name", "Name the key after what will use it.");
        const answer = await call("POST", "/console/api/api-keys", { name });
        form.reset();
        showOnce("new-key", `New API key “${answer.api_key.name}”`, answer.key,
          ["Give it to the backend as Authorization: Bearer <key>. Key ID ", el("code", {}, answer.api_key.id), "."]);
        announce("New API key ready to copy.");
        await load();
      });
    });

    byId("api-keys-table").addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-revoke]");
      if (!button) return;
      const confirmed = await confirmAction(`Revoke the key “${button.dataset.name}”?`,
        "Calls made with it are refused from now on. This cannot be undone.", "Revoke key");
      if (!confirmed) return;
      try {
        await call("DELETE", `/console/api/api-keys/${encodeURIComponent(button.dataset.revoke)}`);
        await load();
        say("results-status", `Key “${button.dataset.name}” revoked.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say("results-status", error.message);
      }
    });

    load();
  }

  // Operators -------------------------------------------------------------------------------------

  function operatorsPage() {
    const form = byId("create-form");
    const me = config.operator && config.operator.id;

    async function load() {
      try {
        const { operators } = await call("GET", "/console/api/operators");
        fillTable("operators-table", operators.map((operator) => {
          const status = operator.disabled ? badge("state", "revoked", "Disabled")
            : operator.must_change_password ? badge("state", "used", "Password to choose") : badge("state", "live", "Active");
          const actions = operator.id === me || operator.disabled ? (operator.id === me ? "You" : "") : el("span", { className: "row-actions" },
            el("button", { type: "button", className: "button secondary small", "data-action": "reset-password", "data-id": operator.id, "data-email": operator.email },
              "Reset password", el("span", { className: "visually-hidden" }, ` of ${operator.email}`)),
            el("button", { type: "button", className: "button danger small", "data-action": "disable", "data-id": operator.id, "data-email": operator.email },
              "Disable", el("span", { className: "visually-hidden" }, ` ${operator.email}`)));
          return [operator.email, ROLE_NAMES[operator.role] || operator.role, status, time(operator.created_at),
            time(operator.last_sign_in_at), actions];
        }), "No operators yet.");
        say("results-status", `${operators.length} operator${operators.length === 1 ? "" : "s"}.`);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say("results-status", error.message);
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitting(form, form.querySelector("button[type=submit]"), async () => {
        const email = form.email.value.trim();
        if (!email) return fieldError(form, "email", "Enter the operator's email address.");
        const answer = await call("POST", "/console/api/operators", { email, role: form.role.value });
        form.reset();
        showOnce("one-time-password", `One-time password for ${answer.operator.email}`, answer.one_time_password,
          ["Hand it over privately; they choose their own password when they first sign in."]);
        announce("Operator added. One-time password ready to copy.");
        await load();
      });
    });

    byId("operators-table").addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const { action, id, email } = button.dataset;
      const question = action === "disable"
        ? [`Disable ${email}?`, "They can no longer sign in, and their open sessions end.", "Disable operator"]
        : [`Reset the password of ${email}?`, "Their current password stops working; you get a one-time password to hand over.", "Reset password"];
      if (!(await confirmAction(...question))) return;
      try {
        const answer = await call("POST", `/console/api/operators/${encodeURIComponent(id)}/${action}`);
        await load();
        if (action === "reset-password") {
          showOnce("one-time-password", `One-time password for ${email}`, answer.one_time_password,
            ["Hand it over privately; they choose their own password when they next sign in."]);
          announce("Password reset. One-time password ready to copy.");
        } else {
          say("results-status", `${email} disabled.`);
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        say("results-status", error.message);
      }
    });

    load();
  }

  const PAGES = {
    "sign-in": signInPage,
    password: passwordPage,
    organizations: organizationsPage,
    organization: organizationPage,
    audit: auditPage,
    "api-keys": apiKeysPage,
    operators: operatorsPage,
  };
  if (PAGES[config.page]) PAGES[config.page]();
})();
