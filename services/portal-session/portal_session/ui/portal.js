/* Portico portal: the behaviour of the server-rendered pages (plain JavaScript, no build step).
   Talks to the portal JSON API with the session's CSRF token, tells an embedding host page what happens
   (postMessage, only to an allowed ancestor's origin), and watches the session's end. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("portico-config").textContent);
  var framed = window.parent !== window;
  var EXPIRING_NOTICE_MS = 5 * 60 * 1000;

  // Embedding -----------------------------------------------------------------------------------

  /* The parent's origin, if it is one the organization allows. Chromium and Safari expose it as
     location.ancestorOrigins; elsewhere a single allowed origin is taken as the parent (with several,
     the portal stays silent rather than guess). */
  function parentOrigin() {
    if (!framed) return null;
    var allowed = config.frame_ancestors || [];
    var ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length) {
      return allowed.indexOf(ancestors[0]) >= 0 ? ancestors[0] : null;
    }
    return allowed.length === 1 ? allowed[0] : null;
  }

  function notify(type, detail) {
    var origin = parentOrigin();
    if (!origin) return;
    var message = { type: type, organization_id: config.organization_id };
    Object.keys(detail || {}).forEach(function (key) { message[key] = detail[key]; });
    window.parent.postMessage(message, origin);
  }

  // Small helpers ---------------------------------------------------------------------------------

  function byId(id) { return document.getElementById(id); }

  function announce(text) {
    var region = byId("announcer");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function connectionPath(suffix) {
    return "/portal/connections/" + encodeURIComponent(config.connection.id) + (suffix || "");
  }

  function apiPath(suffix) {
    return "/portal/api/connections/" + encodeURIComponent(config.connection.id) + (suffix || "");
  }

  function localTimes() {
    document.querySelectorAll("time[data-local]").forEach(function (node) {
      var moment = new Date(node.getAttribute("datetime"));
      if (isNaN(moment.getTime())) return;
      node.title = node.textContent;
      node.textContent = moment.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    });
  }

  // Session end -----------------------------------------------------------------------------------

  var sessionTimers = [];
  var sessionFinished = false;
  var warnedFor = null;
  var clockSkew = 0;
  var lastActivity = Date.now();

  function sessionEnd() {
    var session = config.session;
    var absolute = Date.parse(session.expire_time);
    var idle = lastActivity + clockSkew + session.idle_seconds * 1000;
    return Math.min(absolute, idle);
  }

  function clearSessionTimers() {
    sessionTimers.forEach(window.clearTimeout);
    sessionTimers = [];
  }

  function scheduleSessionEnd() {
    if (!config.session || sessionFinished) return;
    clearSessionTimers();
    var end = sessionEnd();
    var now = Date.now() + clockSkew;
    if (warnedFor !== null && end - now > EXPIRING_NOTICE_MS) {
      warnedFor = null;
      var banner = byId("session-banner");
      if (banner) banner.hidden = true;
    }
    if (warnedFor === null) {
      sessionTimers.push(window.setTimeout(function () { sessionExpiring(end); }, Math.max(0, end - EXPIRING_NOTICE_MS - now)));
    }
    sessionTimers.push(window.setTimeout(function () { sessionOver(null); }, Math.max(0, end - now)));
  }

  function sessionExpiring(end) {
    warnedFor = end;
    var expireTime = new Date(end).toISOString();
    notify("portico.session.expiring", { expire_time: expireTime });
    var banner = byId("session-banner");
    if (!banner) return;
    banner.textContent = "Your setup session ends at " +
      new Date(end).toLocaleTimeString(undefined, { timeStyle: "short" }) +
      ". Save what you are doing; after that you need a new link.";
    banner.hidden = false;
  }

  /* The session is over (time ran out, or the API said so): say it in place, so that a framed portal
     never has to load a page without a session (such a page has no organization, so it refuses framing). */
  function sessionOver(message) {
    if (sessionFinished) return;
    sessionFinished = true;
    clearSessionTimers();
    notify("portico.session.expired", {});
    var main = byId("main");
    var progress = document.querySelector(".progress");
    if (progress) progress.hidden = true;
    var banner = byId("session-banner");
    if (banner) banner.hidden = true;
    var card = document.createElement("section");
    card.className = "card message";
    var title = document.createElement("h1");
    title.textContent = "Your setup session has ended";
    var text = document.createElement("p");
    text.textContent = message || "Your setup session has expired. Ask the person who sent the link for a new one.";
    var kept = document.createElement("p");
    kept.textContent = "Nothing you saved is lost: saved settings stay in place.";
    card.append(title, text, kept);
    main.replaceChildren(card);
    document.title = "Your setup session has ended · " + config.product;
    main.focus();
  }

  function touchSession() {
    lastActivity = Date.now();
    scheduleSessionEnd();
  }

  // The portal API ------------------------------------------------------------------------------

  function api(method, path, body, version) {
    var headers = { "Accept": "application/json", "X-CSRF-Token": config.csrf_token };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (version !== undefined) headers["If-Match"] = '"' + version + '"';
    return fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (response) {
      touchSession();
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (ignored) { data = null; }
        var error = data && data.error ? data.error : null;
        if (!response.ok && !error) {
          error = { code: "http_" + response.status, message: "Something went wrong (" + response.status + "). Try again in a moment." };
        }
        if (response.status === 401) sessionOver(error && error.message);
        return { ok: response.ok, status: response.status, data: data, error: error };
      });
    }, function () {
      return { ok: false, status: 0, data: null,
        error: { code: "network", message: "Portico could not be reached. Check your connection and try again." } };
    });
  }

  // Errors, exactly as the API explains them --------------------------------------------------------

  function clearErrors(scope) {
    scope.querySelectorAll(".field-error").forEach(function (node) { node.hidden = true; node.textContent = ""; });
    scope.querySelectorAll("[aria-invalid]").forEach(function (node) { node.removeAttribute("aria-invalid"); });
    var summary = byId("form-error");
    if (summary) { summary.hidden = true; summary.textContent = ""; }
  }

  /* The visible control for a dotted API path: `saml.certificates.1` falls back to `saml.certificates`. */
  function controlFor(scope, path) {
    var current = path || "";
    while (current) {
      var nodes = scope.querySelectorAll("[data-field]");
      for (var i = 0; i < nodes.length; i++) {
        if (nodes[i].getAttribute("data-field") === current && !nodes[i].closest("[hidden]")) return nodes[i];
      }
      var cut = current.lastIndexOf(".");
      if (cut < 0) break;
      current = current.slice(0, cut);
    }
    return null;
  }

  function showError(scope, error, extraLink) {
    var control = controlFor(scope, error.field);
    if (control) {
      var box = byId(control.id + "-error");
      box.textContent = error.message;
      box.hidden = false;
      control.setAttribute("aria-invalid", "true");
      control.focus();
      return;
    }
    var summary = byId("form-error");
    summary.textContent = error.message;
    if (extraLink) {
      summary.append(" ");
      var link = document.createElement("a");
      link.href = extraLink.href;
      link.textContent = extraLink.text;
      summary.append(link);
    }
    summary.hidden = false;
    summary.focus();
  }

  function versionConflict(error) {
    return error.code === "version_mismatch"
      ? { href: window.location.pathname, text: "Reload the page" } : undefined;
  }

  function busy(button, on, label) {
    if (!button) return;
    if (on) { button.dataset.label = button.textContent; button.textContent = label; }
    else if (button.dataset.label) { button.textContent = button.dataset.label; }
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  // Copy buttons --------------------------------------------------------------------------------

  function clipboardAllowed() {
    var policy = document.featurePolicy;
    return !policy || !policy.allowsFeature || policy.allowsFeature("clipboard-write");
  }

  function copyWithSelection(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (ignored) { copied = false; }
    area.remove();
    return copied;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext && clipboardAllowed()) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, function () { return copyWithSelection(text); });
    }
    return Promise.resolve(copyWithSelection(text));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    copyText(button.getAttribute("data-copy")).then(function (copied) {
      var label = (button.getAttribute("aria-label") || "Copy").replace(/^Copy /, "");
      button.textContent = copied ? "Copied" : "Select and copy";
      announce(copied ? label + " copied" : "Copying is blocked here: select the value and copy it.");
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    });
  });

  // Pages -----------------------------------------------------------------------------------------

  function providersPage() {
    var form = byId("provider-form");
    var protocolChoice = byId("protocol-choice");

    function chosenProvider() { return form.querySelector("input[name=provider]:checked"); }

    function offerProtocols() {
      var provider = chosenProvider();
      if (!provider) return;
      var protocols = provider.getAttribute("data-protocols").split(",");
      form.querySelectorAll("input[name=type]").forEach(function (input) {
        input.checked = input.value === protocols[0];
        input.closest("label").hidden = protocols.indexOf(input.value) < 0;
      });
      form.querySelectorAll(".recommended").forEach(function (tag) { tag.hidden = tag.getAttribute("data-for") !== protocols[0]; });
      protocolChoice.hidden = protocols.length < 2;
    }

    form.addEventListener("change", function (event) {
      if (event.target.name === "provider") { clearErrors(form); offerProtocols(); }
    });
    offerProtocols();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(form);
      var provider = chosenProvider();
      if (!provider) {
        var box = byId("provider-error");
        box.textContent = "Choose your identity provider.";
        box.hidden = false;
        form.querySelector("input[name=provider]").focus();
        return;
      }
      var type = form.querySelector("input[name=type]:checked").value;
      var draft = (config.drafts || []).filter(function (d) { return d.provider === provider.value && d.type === type; })[0];
      if (draft) {
        window.location.assign("/portal/connections/" + encodeURIComponent(draft.id) + "/guide");
        return;
      }
      var button = form.querySelector("button[type=submit]");
      busy(button, true, "Preparing…");
      api("POST", "/portal/api/connections", { type: type, provider: provider.value }).then(function (result) {
        if (result.ok) {
          window.location.assign("/portal/connections/" + encodeURIComponent(result.data.connection.id) + "/guide");
          return;
        }
        busy(button, false);
        showError(form, result.error);
      });
    });
  }

  function readFile(input) {
    var file = input.files && input.files[0];
    if (!file) return Promise.resolve(null);
    return file.text();
  }

  function splitCertificates(text) {
    var blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
    return blocks && blocks.length ? blocks : [text.trim()];
  }

  function samlBody(form) {
    var source = form.querySelector("input[name=source]:checked").value;
    if (source === "url") {
      return Promise.resolve({ saml: { metadata_url: byId("saml-metadata-url").value.trim() } });
    }
    if (source === "xml") {
      return readFile(byId("saml-metadata-file")).then(function (xml) {
        if (xml === null) {
          return { problem: { field: "saml.metadata_xml", message: "Choose the metadata XML file you downloaded from your identity provider." } };
        }
        return { saml: { metadata_xml: xml } };
      });
    }
    var saml = { idp_entity_id: byId("saml-idp-entity-id").value, sso_url: byId("saml-sso-url").value.trim() };
    var certificates = byId("saml-certificates").value;
    if (certificates.trim()) saml.certificates = splitCertificates(certificates);
    else if (!config.connection.has_certificates) saml.certificates = [];
    return Promise.resolve({ saml: saml });
  }

  function oidcBody() {
    var oidc = {
      issuer: byId("oidc-issuer").value.trim(),
      client_id: byId("oidc-client-id").value,
      scopes: byId("oidc-scopes").value.split(/[\s,]+/).filter(Boolean),
    };
    var secret = byId("oidc-client-secret").value;
    if (secret || !config.connection.client_secret_set) oidc.client_secret = secret;
    return Promise.resolve({ oidc: oidc });
  }

  function configurePage() {
    var form = byId("connection-form");
    var sources = form.querySelectorAll(".source");

    function showSource() {
      var checked = form.querySelector("input[name=source]:checked");
      sources.forEach(function (section) { section.hidden = !checked || section.getAttribute("data-source") !== checked.value; });
    }
    if (sources.length) {
      form.addEventListener("change", function (event) {
        if (event.target.name === "source") { clearErrors(form); showSource(); }
      });
      showSource();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(form);
      var button = form.querySelector("button[type=submit]");
      var build = form.getAttribute("data-type") === "saml" ? samlBody(form) : oidcBody();
      build.then(function (body) {
        if (body.problem) { showError(form, body.problem); return null; }
        busy(button, true, "Checking…");
        return api("PATCH", apiPath(), body, config.connection.version);
      }).then(function (result) {
        if (!result) return;
        if (result.ok) { window.location.assign(connectionPath("/review")); return; }
        busy(button, false);
        showError(form, result.error, versionConflict(result.error));
      });
    });
  }

  function connectionEvent(type, connection) {
    notify(type, {
      connection_id: connection.id, connection_type: connection.type,
      provider: connection.provider, status: connection.status,
    });
  }

  function changeStatus(action, button, then) {
    busy(button, true, action === "enable" ? "Enabling…" : "Disabling…");
    api("POST", apiPath("/" + action), undefined, config.connection.version).then(function (result) {
      if (!result.ok) { busy(button, false); showError(document, result.error, versionConflict(result.error)); return; }
      connectionEvent(action === "enable" ? "portico.connection.enabled" : "portico.connection.disabled", result.data.connection);
      then();
    });
  }

  function reviewPage() {
    var enable = byId("enable-connection");
    if (!enable) return;
    testStep(enable);
    enable.addEventListener("click", function () {
      clearErrors(document);
      changeStatus("enable", enable, function () { window.location.assign(connectionPath("/done")); });
    });
  }

  function managePage() {
    var disable = byId("disable-connection");
    var reload = function () { window.location.reload(); };
    if (disable) disable.addEventListener("click", function () { clearErrors(document); changeStatus("disable", disable, reload); });

    var dialog = byId("delete-dialog");
    byId("delete-connection").addEventListener("click", function () { dialog.showModal(); });
    byId("cancel-delete").addEventListener("click", function () { dialog.close(); });
    byId("confirm-delete").addEventListener("click", function () {
      var button = byId("confirm-delete");
      busy(button, true, "Deleting…");
      api("DELETE", apiPath(), undefined, config.connection.version).then(function (result) {
        if (result.ok) { window.location.assign("/portal/"); return; }
        busy(button, false);
        dialog.close();
        showError(document, result.error, versionConflict(result.error));
      });
    });
  }

  function donePage() {
    var finish = byId("finish-setup");
    finish.addEventListener("click", function () {
      clearErrors(document);
      busy(finish, true, "Finishing…");
      api("POST", "/portal/api/setup/complete", {}).then(function (result) {
        if (!result.ok) { busy(finish, false); showError(document, result.error); return; }
        var successUrl = result.data.success_url;
        if (result.data.ended) { sessionFinished = true; clearSessionTimers(); }
        notify("portico.setup.completed", {
          connection_id: config.connection.id, session_ended: result.data.ended, success_url: successUrl,
        });
        byId("done").hidden = true;
        var finished = byId("finished");
        finished.hidden = false;
        finished.focus();
        if (successUrl && !framed) window.location.assign(successUrl);
      });
    });
  }

  // Connection tests -----------------------------------------------------------------------------

  var TEST_POLL_MS = 1500;
  var TEST_WAIT_MS = 15 * 60 * 1000;  // as long as an admin may take to sign in at the IdP

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function summaryRow(list, label, value, prose) {
    var row = element("div", "value-row");
    row.append(element("dt", "", label));
    var dd = element("dd");
    dd.append(element("span", prose ? "" : "mono", value === undefined || value === null || value === "" ? "none" : value));
    row.append(dd);
    list.append(row);
  }

  function whoFixes(fixIn) {
    return fixIn === "identity_provider"
      ? "Your identity provider's admin, in " + config.connection.provider_name
      : "The connection's settings in " + config.product + ": edit its details (or ask the " + config.product + " team, the SaaS vendor)";
  }

  /* The outcome of a test, inline: what the IdP sent, or the error with who must fix it. */
  function testOutcome(test) {
    var succeeded = test.status === "succeeded";
    var box = element("div", "callout " + (succeeded ? "test-succeeded" : "test-failed"));
    box.id = "test-" + test.status;
    box.append(element("h3", "", succeeded ? "The test sign-in worked" : "The test sign-in failed"));
    var list = element("dl", "summary");
    if (succeeded) {
      var profile = test.profile || {};
      summaryRow(list, "Email", profile.email);
      summaryRow(list, "Name", [profile.first_name, profile.last_name].filter(Boolean).join(" "));
      summaryRow(list, "Groups", (profile.groups || []).join(", "));
      summaryRow(list, "Attributes received", Object.keys(profile.raw_attributes || {}).length);
    } else {
      var error = test.error || {};
      box.append(element("p", "", error.message));
      summaryRow(list, "Error code", error.code);
      summaryRow(list, "Who must fix it", whoFixes(error.fix_in), true);
      if ("expected" in error) summaryRow(list, "Expected", [].concat(error.expected).join(", "));
      if ("actual" in error) summaryRow(list, "Received", [].concat(error.actual).join(", "));
    }
    box.append(list);
    var more = element("a", "", succeeded ? "See everything received" : "See the full result");
    more.href = connectionPath("/tests/" + encodeURIComponent(test.id));
    box.append(more);
    return box;
  }

  function testStep(enable) {
    var start = byId("test-connection");
    if (!start) return;
    var outcome = byId("test-outcome");
    var openLink = byId("test-open");
    var key = "portico.test." + config.connection.id;
    var current = null;
    function remember(id) { try { window.localStorage.setItem(key, id); } catch (ignored) { /* storage refused */ } }
    function remembered() { try { return window.localStorage.getItem(key); } catch (ignored) { return null; } }
    function show(test) {
      outcome.replaceChildren(testOutcome(test));
      var passed = test.status === "succeeded" && test.connection_version === config.connection.version;
      enable.disabled = !passed;
      announce(test.status === "succeeded" ? "The test sign-in worked." : "The test sign-in failed.");
    }
    function poll(id, deadline) {
      if (id !== current) return;  // a newer test replaced this one
      api("GET", apiPath("/tests/" + encodeURIComponent(id))).then(function (result) {
        if (result.status === 401 || result.status === 404) return;
        var test = result.ok ? result.data.test : null;
        if (test && test.connection_version !== config.connection.version) return;  // a test of earlier details
        if (test && test.status !== "pending") { show(test); return; }
        if (Date.now() < deadline) window.setTimeout(function () { poll(id, deadline); }, TEST_POLL_MS);
      });
    }
    function follow(id) { current = id; poll(id, Date.now() + TEST_WAIT_MS); }
    start.addEventListener("click", function () {
      clearErrors(document);
      // Opened now, while the click counts, so no popup blocker stops it; pointed at the IdP once the test exists.
      var tab = window.open("", "_blank");
      busy(start, true, "Starting…");
      api("POST", apiPath("/tests")).then(function (result) {
        busy(start, false);
        if (!result.ok) { if (tab) tab.close(); showError(document, result.error); return; }
        var test = result.data.test;
        var location = new URL(test.location, window.location.href).href;
        remember(test.id);
        if (tab) { tab.opener = null; tab.location.href = location; openLink.hidden = true; }
        else { openLink.href = location; openLink.hidden = false; }  // blocked (or a sandboxed frame): the admin opens it
        var waiting = element("div", "callout", "Sign in at " + config.connection.provider_name +
          " in the new tab. The result appears here.");
        waiting.id = "test-waiting";
        outcome.replaceChildren(waiting);
        follow(test.id);
      });
    });
    var last = remembered();
    if (last) follow(last);
  }

  function testResultPage() {
    // A pending test is still at the IdP: read it again until it is over, then show the page it ended with.
    if (!config.test || config.test.status !== "pending") return;
    var path = "/portal/api/connections/" + encodeURIComponent(config.test.connection_id) + "/tests/" + encodeURIComponent(config.test.id);
    var poll = function () {
      api("GET", path).then(function (result) {
        if (result.ok && result.data.test.status !== "pending") window.location.reload();
        else if (result.status !== 401) window.setTimeout(poll, TEST_POLL_MS);
      });
    };
    window.setTimeout(poll, TEST_POLL_MS);
  }

  function cookiesBlockedPage() {
    var open = byId("open-in-new-tab");
    open.addEventListener("click", function () { byId("opened-hint").hidden = false; });
  }

  // Start -------------------------------------------------------------------------------------

  localTimes();
  if (config.session) {
    clockSkew = Date.parse(config.session.server_time) - Date.now();
    scheduleSessionEnd();
  }
  var pages = {
    providers: providersPage, configure: configurePage, review: reviewPage, manage: managePage,
    done: donePage, test: testResultPage, "cookies-blocked": cookiesBlockedPage,
  };
  if (pages[config.page]) pages[config.page]();
  if (config.failure) notify("portico.portal.load_failed", { reason: config.failure, page: config.page });
  else notify("portico.portal.loaded", { page: config.page });
})();
