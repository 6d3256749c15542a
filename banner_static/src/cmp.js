/*
 * The consent banner runtime.
 *
 * Embedded as <script src="https://cmp.example.com/c/<site>.js"></script>
 * (or the versioned file with data-site="<site>"), it:
 *   1. tells Google Consent Mode "denied" before any tag can run;
 *   2. fetches the site's config and decides each purpose with the same rule
 *      as the server (consent/decisions.py), from the first-party cookie;
 *   3. shows the banner when a choice is needed, gates tags until their
 *      purpose is granted, and POSTs every choice to the server, keeping it
 *      in the cookie until the server confirms (nothing is lost offline).
 *
 * Everything is inserted as text, never as HTML, and needs no inline script
 * or style: it runs under a strict Content-Security-Policy.
 */
(function () {
  "use strict";
  var w = window, d = document, nav = navigator;
  var VERSION = "1.1.2";
  var me = d.currentScript;
  var src = new URL(me.src);
  var origin = src.origin;
  var boot = w.cmpBoot || {};
  var site = boot.site || me.getAttribute("data-site") || (src.pathname.match(/\/c\/([\w-]+)\.js$/) || [])[1];
  var COOKIE = "cmp_" + site;
  var GATED = "script[data-cmp-purpose],iframe[data-cmp-purpose]";
  // Google Consent Mode v2 storage type -> purpose (consent/decisions.py, CONSENT_MODE_PURPOSES).
  var MODE = {
    security_storage: "security", functionality_storage: "authentication", analytics_storage: "analytics",
    ad_storage: "advertising", ad_user_data: "advertising", personalization_storage: "recognition"
  };

  var cfg = null;            // the site's config, once fetched
  var state = readCookie();  // the visitor's stored choice, or null
  var server = {};           // signals the server saw (sticky GPC, the NAI cookie of the platform)
  var decisions = {};        // purpose -> granted
  var adPersonalization = false;
  var listeners = [];
  var activated = {};        // purpose -> something ran for it on this page
  var queue = [], running = false;
  var ui = null;             // the banner's elements, once built
  var visitorId = state ? state.v : uuid();

  // -- 1. Consent Mode default, before any tag -------------------------------------

  function gtag() { (w.dataLayer = w.dataLayer || []).push(arguments); }
  var strict = {};
  for (var k in MODE) strict[k] = "denied";
  strict.ad_personalization = "denied";
  strict.security_storage = strict.functionality_storage = "granted";
  strict.wait_for_update = 500;
  gtag("consent", "default", strict);
  gaDisable(boot.ga, true);

  // -- the first-party cookie -----------------------------------------------------------
  // 1!<visitor>!<token>!<policy>!<time base36>!<granted~keys>!<denied~keys>!<flags>
  // flags: g = advertising granted despite GPC (confirmed), n = NAI opt-out,
  // s = GPC seen by the server, q = not yet confirmed by the server.

  // A cookie that does not parse (corrupted, truncated, edited) is no choice: ask again.
  // So is one made in the future (it would never expire): a day of clock skew is allowed.
  function readCookie() {
    try {
      var m = d.cookie.match(new RegExp("(?:^|; )" + COOKIE + "=([^;]*)"));
      var f = m && m[1].split("!");
      if (!f || f.length !== 8 || f[0] !== "1" || !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(f[1]) ||
          !/^[\w-]+$/.test(f[2]) || !/^[0-9a-z]{1,9}$/.test(f[4]) || !/^[\w~-]*$/.test(f[5] + f[6]) ||
          !/^[gnsq]*$/.test(f[7])) return null;
      var ts = parseInt(f[4], 36), c = Object.create(null), policy = decodeURIComponent(f[3]);
      if (!(ts > 0) || ts > Date.now() / 1000 + 86400) return null;
      f[5].split("~").forEach(function (key) { if (key) c[key] = true; });
      f[6].split("~").forEach(function (key) { if (key) c[key] = false; });
      return { v: f[1], t: f[2], p: policy, ts: ts, c: c, f: f[7] };
    } catch (e) {
      return null;
    }
  }

  function writeCookie() {
    var yes = [], no = [];
    for (var key in state.c) (state.c[key] ? yes : no).push(key);
    var value = ["1", state.v, state.t, encodeURIComponent(state.p || ""), state.ts.toString(36),
      yes.join("~"), no.join("~"), state.f].join("!");
    var days = cfg ? cfg.consent_lifetime_days : 365;
    d.cookie = COOKIE + "=" + value + "; Max-Age=" + days * 86400 + "; Path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }

  function flag(name) { return !!state && state.f.indexOf(name) >= 0; }

  function setFlag(name, on) {
    state.f = state.f.replace(name, "") + (on ? name : "");
  }

  // -- 2. the decision rule (the same as consent/decisions.py) -----------------------------------

  function signals() {
    var ga = false;
    try { ga = !!(w._gaUserPrefs && w._gaUserPrefs.ioo && w._gaUserPrefs.ioo()); } catch (e) { /* not the add-on */ }
    return {
      gpc: nav.globalPrivacyControl === true || !!server.gpc || flag("s"),
      ga_optout: ga,
      nai_optout: flag("n") || !!server.nai_optout,
      lat: false,
      dnt: nav.doNotTrack === "1"
    };
  }

  function validChoice() {
    if (!state || !state.ts || !cfg) return null;
    var fresh = Date.now() / 1000 - state.ts < cfg.consent_lifetime_days * 86400;
    return fresh && cfg.policy.versions_in_force.indexOf(state.p) >= 0 ? state.c : null;
  }

  function decide() {
    var choices = validChoice() || {}, s = signals(), need = false;
    var optOut = s.gpc || (cfg.honor_dnt && s.dnt);
    var out = {};
    cfg.purposes.forEach(function (p) {
      var granted;
      if (p.essential) granted = true;
      else if (typeof choices[p.key] === "boolean") granted = choices[p.key];
      else { need = true; granted = cfg.regime === "opt_out"; }
      if (granted && p.key === "analytics" && s.ga_optout) granted = false;
      if (granted && p.key === "advertising" && optOut && !(choices.advertising === true && flag("g"))) granted = false;
      out[p.key] = granted;
    });
    return { decisions: out, need: need, adp: !!out.advertising && !s.nai_optout && !s.lat };
  }

  function consentMode() {
    var mode = {};
    for (var key in MODE) mode[key] = decisions[MODE[key]] ? "granted" : "denied";
    mode.ad_personalization = adPersonalization ? "granted" : "denied";
    return mode;
  }

  function apply(outcome, fromServer) {
    var revoked = false;
    for (var key in decisions) if (decisions[key] && !outcome.decisions[key] && activated[key]) revoked = true;
    decisions = outcome.decisions;
    adPersonalization = outcome.adp;
    gtag("consent", "update", consentMode());
    gaDisable(cfg.ga_measurement_ids, !decisions.analytics);
    gaDisable(boot.ga, !decisions.analytics);
    var detail = { decisions: api.decisions(), consent_mode: consentMode(), source: fromServer ? "server" : "banner" };
    listeners.forEach(function (fn) { try { fn(detail); } catch (e) { setTimeout(function () { throw e; }); } });
    d.dispatchEvent(new CustomEvent("cmp:change", { detail: detail }));
    scan(d);
    return revoked;
  }

  function gaDisable(ids, off) {
    (ids || []).forEach(function (id) { w["ga-disable-" + id] = off; });
  }

  // -- 3. gating: each tag runs once, in document order, when its purpose is granted --------------

  function scan(root) {
    var found = root.matches && root.matches(GATED) ? [root] : [];
    if (root.querySelectorAll) found = found.concat([].slice.call(root.querySelectorAll(GATED)));
    found.forEach(function (el) {
      if (el.cmpQueued) return;
      var purpose = el.getAttribute("data-cmp-purpose");
      if (cfg && decisions[purpose]) {
        el.cmpQueued = true;
        queue.push(el);
      } else if (el.tagName === "IFRAME") {
        placeholder(el, purpose);
      }
    });
    next();
  }

  function next() {
    if (running || !queue.length) return;
    var el = queue.shift();
    var purpose = el.getAttribute("data-cmp-purpose");
    if (!decisions[purpose]) { el.cmpQueued = false; return next(); }  // revoked meanwhile
    activated[purpose] = true;
    if (el.tagName === "IFRAME") {
      if (el.cmpHolder) el.cmpHolder.remove();
      el.hidden = false;
      el.src = el.getAttribute("data-src");
      el.removeAttribute("data-cmp-purpose");
      return next();
    }
    var s = d.createElement("script");
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i];
      if (a.name !== "type" && a.name !== "data-cmp-purpose" && a.name !== "src") s.setAttribute(a.name, a.value);
    }
    var url = el.getAttribute("src") || el.getAttribute("data-src");
    if (url) {
      // Wait for an external script before the next one: document order.
      running = true;
      s.onload = s.onerror = function () { running = false; next(); };
      s.src = url;
    } else {
      s.text = el.text;
    }
    el.parentNode.replaceChild(s, el);
    next();
  }

  function placeholder(frame, purpose) {
    if (frame.cmpHolder || !cfg) return;
    var p = purposeOf(purpose);
    var name = p ? p.name : purpose;
    var holder = d.createElement("div");
    // Take exactly the iframe's box, so swapping them moves nothing (CLS 0).
    var size = holder.style, box = getComputedStyle(frame);
    size.display = "inline-block";
    size.width = frame.offsetWidth + "px";
    size.height = frame.offsetHeight + "px";
    size.verticalAlign = box.verticalAlign;
    size.overflow = "auto";
    var root = holder.attachShadow({ mode: "open" });
    var sheet = stylesheet();
    root.appendChild(sheet);
    var box = el("div", { class: "ph", dir: cfg.direction, lang: cfg.language, hidden: "" });
    sheet.addEventListener("load", function () { box.hidden = false; });  // appear styled, not reflowed
    box.appendChild(el("p", {}, cfg.ui.blocked.replace("{purpose}", name)));
    var allow = el("button", { type: "button", class: "btn" }, cfg.ui.allow.replace("{purpose}", name));
    allow.addEventListener("click", function () {
      var choices = currentChoices();
      choices[purpose] = true;
      choose(choices);
    });
    box.appendChild(allow);
    root.appendChild(box);
    frame.hidden = true;
    frame.parentNode.insertBefore(holder, frame);
    frame.cmpHolder = holder;
  }

  new MutationObserver(function (records) {
    records.forEach(function (r) { r.addedNodes.forEach(function (n) { if (n.nodeType === 1) scan(n); }); });
  }).observe(d.documentElement, { childList: true, subtree: true });

  // -- choices and their delivery ------------------------------------------------------------------

  function currentChoices() {
    var choices = {};
    cfg.purposes.forEach(function (p) { if (!p.essential) choices[p.key] = !!decisions[p.key]; });
    return choices;
  }

  function choose(choices, gpcConfirmed) {
    var s = signals();
    if (choices.advertising && s.gpc && !gpcConfirmed && !flag("g")) {
      // GPC is on: advertising stays off unless the visitor confirms (CCPA §7025).
      choices.advertising = false;
      askAboutGpc(choices);
    }
    state = state || { v: visitorId, t: token(), f: "" };
    state.c = choices;
    state.p = cfg.policy.version || "";
    state.ts = Math.floor(Date.now() / 1000);
    if (gpcConfirmed) setFlag("g", choices.advertising === true);
    setFlag("q", true);
    writeCookie();
    hide();
    var revoked = apply(decide(), false);
    send(revoked);
  }

  function send(reloadAfter) {
    var s = signals();
    var body = {
      visitor_id: state.v, token: state.t, choices: state.c, policy_version: state.p || null,
      banner_version: VERSION, language: cfg.language,
      signals: { gpc: s.gpc, ga_optout: s.ga_optout, nai_optout: flag("n"), dnt: s.dnt }
    };
    // text/plain needs no CORS preflight; credentials carry the platform's NAI cookie.
    fetch(origin + cfg.endpoints.consents, {
      method: "POST", body: JSON.stringify(body), credentials: "include", keepalive: true,
      headers: { "Content-Type": "text/plain" }
    }).then(function (r) {
      if (r.status >= 500 || r.status === 429) throw new Error("retry later");
      return r.json().then(function (answer) { confirmed(r.ok, answer); });
    }).catch(function () { /* kept in the cookie (flag q); sent again on the next page view */ })
      .then(function () { if (reloadAfter) location.reload(); });
  }

  function confirmed(ok, answer) {
    setFlag("q", false);  // a 4xx will not get better by retrying
    if (ok) {
      server = answer.signals || {};
      setFlag("s", !!server.gpc);
      if (server.nai_optout) setFlag("n", true);
      var granted = {};
      for (var key in answer.decisions) granted[key] = answer.decisions[key].granted;
      apply({ decisions: granted, adp: answer.ad_personalization.granted }, true);
    }
    writeCookie();
  }

  function token() {
    var bytes = crypto.getRandomValues(new Uint8Array(32));
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function uuid() {
    return crypto.randomUUID ? crypto.randomUUID() : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16);
    });
  }

  // -- the banner and the preferences dialog ------------------------------------------------------------

  function el(tag, attrs, text) {
    var node = d.createElement(tag);
    for (var a in attrs) node.setAttribute(a, attrs[a]);
    if (text != null) node.textContent = text;  // text, never HTML
    return node;
  }

  function stylesheet() {
    return el("link", { rel: "stylesheet", href: origin + "/c/cmp.css?v=" + VERSION });
  }

  function purposeOf(key) {
    return cfg.purposes.filter(function (p) { return p.key === key; })[0];
  }

  function button(action, label) {
    var b = el("button", { type: "button", class: "btn", "data-action": action }, label);
    b.addEventListener("click", function () { act(action); });
    return b;
  }

  function build(show) {
    var t = cfg.ui;
    var host = el("div", { id: "cmp-root" });
    var root = host.attachShadow({ mode: "open" });
    var sheet = stylesheet();
    root.appendChild(sheet);
    var optOut = cfg.regime === "opt_out";
    var banner = el("section", { class: "banner", role: "region", "aria-labelledby": "cmp-title", dir: cfg.direction, lang: cfg.language, hidden: "" });
    banner.appendChild(el("h2", { id: "cmp-title" }, t.title));
    banner.appendChild(el("p", {}, optOut ? t.notice : t.description));
    if (signals().gpc) banner.appendChild(el("p", { class: "gpc" }, t.gpc_honored));
    var actions = el("div", { class: "actions" });
    if (optOut) {
      actions.appendChild(button("do-not-sell", t.do_not_sell));
      actions.appendChild(button("customize", t.customize));
      actions.appendChild(button("acknowledge", t.close));
    } else {
      actions.appendChild(button("accept", t.accept_all));
      actions.appendChild(button("reject", t.reject_all));
      actions.appendChild(button("customize", t.customize));
    }
    banner.appendChild(actions);
    if (cfg.policy.url) banner.appendChild(el("a", { href: cfg.policy.url, class: "link" }, t.policy));
    root.appendChild(banner);
    var dialog = buildDialog(t);
    root.appendChild(dialog);
    d.body.insertBefore(host, d.body.firstChild);  // first in tab order
    ui = { host: host, root: root, banner: banner, dialog: dialog };
    // Paint only once styled: no flash of unstyled content, and no layout shift
    // (the banner is fixed, so it moves nothing on the page).
    sheet.addEventListener("load", function () { if (show) showBanner(); });
  }

  function buildDialog(t) {
    var dialog = el("dialog", { class: "prefs", "aria-labelledby": "cmp-prefs-title", dir: cfg.direction, lang: cfg.language });
    dialog.appendChild(el("h2", { id: "cmp-prefs-title" }, t.preferences));
    if (signals().gpc) dialog.appendChild(el("p", { class: "gpc" }, t.gpc_honored));
    cfg.purposes.forEach(function (p) {
      var row = el("div", { class: "purpose" });
      var id = "cmp-p-" + p.key;
      var box = el("input", { type: "checkbox", role: "switch", id: id, "data-purpose": p.key, "aria-describedby": id + "-d" });
      if (p.essential) { box.checked = true; box.disabled = true; }
      var label = el("label", { for: id });
      label.appendChild(box);
      label.appendChild(d.createTextNode(" " + p.name + (p.essential ? " (" + t.always_on + ")" : "")));
      row.appendChild(label);
      row.appendChild(el("p", { id: id + "-d", class: "desc" }, p.description));
      dialog.appendChild(row);
    });
    var nai = el("input", { type: "checkbox", id: "cmp-nai" });
    var naiLabel = el("label", { for: "cmp-nai", class: "nai" });
    naiLabel.appendChild(nai);
    naiLabel.appendChild(d.createTextNode(" " + t.nai_optout));
    dialog.appendChild(naiLabel);
    var conflict = el("div", { class: "conflict", role: "alert", hidden: "" });
    conflict.appendChild(el("p", {}, t.gpc_conflict));
    conflict.appendChild(button("confirm-gpc", t.confirm));
    dialog.appendChild(conflict);
    var actions = el("div", { class: "actions" });
    actions.appendChild(button("reject", t.reject_all));
    actions.appendChild(button("accept", t.accept_all));
    actions.appendChild(button("save", t.save));
    dialog.appendChild(actions);
    var links = el("p", { class: "links" });
    if (cfg.policy.url) links.appendChild(el("a", { href: cfg.policy.url, class: "link" }, t.policy));
    var rights = el("a", { href: "#", class: "link", "data-action": "rights" }, t.rights);
    rights.addEventListener("click", function () { rights.href = rightsUrl(); });
    links.appendChild(rights);
    var receipt = el("button", { type: "button", class: "link plain", "data-action": "receipt" }, t.receipt);
    receipt.addEventListener("click", downloadReceipt);
    links.appendChild(receipt);
    dialog.appendChild(links);
    dialog.appendChild(button("close", t.close));
    dialog.addEventListener("close", restoreFocus);
    return dialog;
  }

  // The signed receipt of the visitor's latest choice, saved as a file.
  function downloadReceipt() {
    if (!state) return;
    fetch(origin + "/api/v1/sites/" + site + "/visitors/" + state.v + "/receipts?latest=1", {
      headers: { Authorization: "Bearer " + state.t }
    }).then(function (r) { if (!r.ok) throw new Error(r.status); return r.blob(); }).then(function (blob) {
      var a = el("a", { href: URL.createObjectURL(blob), download: "consent-receipt-" + site + ".json" });
      ui.root.appendChild(a);
      a.click();
      a.remove();
    }).catch(function () { /* nothing recorded yet, or offline: nothing to save */ });
  }

  function rightsUrl() {
    var url = origin + cfg.endpoints.requests + "?lang=" + encodeURIComponent(cfg.language);
    return state ? url + "#visitor=" + state.v + "&token=" + state.t : url;
  }

  var opener = null, pendingConflict = null;

  function act(action) {
    var all = {}, none = {};
    cfg.purposes.forEach(function (p) { if (!p.essential) { all[p.key] = true; none[p.key] = false; } });
    if (action === "accept") choose(all);
    else if (action === "reject") choose(none);
    else if (action === "customize") open();
    else if (action === "close") ui.dialog.close();
    else if (action === "acknowledge") choose(currentChoices());
    else if (action === "do-not-sell") {
      var choices = currentChoices();
      choices.advertising = false;
      if ("recognition" in choices) choices.recognition = false;
      choose(choices);
    } else if (action === "save") {
      var picked = {};
      ui.dialog.querySelectorAll("input[data-purpose]").forEach(function (box) {
        if (!box.disabled) picked[box.getAttribute("data-purpose")] = box.checked;
      });
      state = state || { v: visitorId, t: token(), f: "" };
      setFlag("n", ui.dialog.querySelector("#cmp-nai").checked);
      choose(picked);
    } else if (action === "confirm-gpc") {
      var confirmedChoices = pendingConflict || currentChoices();
      confirmedChoices.advertising = true;
      pendingConflict = null;
      ui.dialog.querySelector(".conflict").hidden = true;
      choose(confirmedChoices, true);
      if (ui.dialog.open) ui.dialog.close();
    }
  }

  function askAboutGpc(choices) {
    pendingConflict = Object.assign({}, choices);
    open();
    var box = ui.dialog.querySelector(".conflict");
    box.hidden = false;
    box.querySelector("button").focus();
  }

  function open() {
    if (!ui) return;
    var active = d.activeElement;
    opener = active === ui.host ? ui.root.activeElement : active;
    ui.dialog.querySelectorAll("input[data-purpose]").forEach(function (box) {
      if (!box.disabled) box.checked = !!decisions[box.getAttribute("data-purpose")];
    });
    ui.dialog.querySelector("#cmp-nai").checked = flag("n");
    if (!ui.dialog.open) ui.dialog.showModal();
    var first = ui.dialog.querySelector("input:not([disabled]),button");
    if (first) first.focus();
  }

  function restoreFocus() {
    if (opener && opener.focus && opener.isConnected) opener.focus();
    opener = null;
  }

  function showBanner() {
    ui.banner.hidden = false;
    // Keep focused page elements visible above the banner (WCAG 2.4.11).
    d.documentElement.style.scrollPaddingBottom = ui.banner.offsetHeight + "px";
  }

  function hide() {
    if (!ui) return;
    ui.banner.hidden = true;
    d.documentElement.style.scrollPaddingBottom = "";
    if (ui.dialog.open && ui.dialog.querySelector(".conflict").hidden) ui.dialog.close();
  }

  // "Cookie preferences" links anywhere on the page.
  d.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("[data-cmp-open]");
    if (link) { e.preventDefault(); open(); }
  });

  // -- the page API ----------------------------------------------------------------------------

  var resolveReady;
  var api = {
    version: VERSION,
    ready: new Promise(function (resolve) { resolveReady = resolve; }),
    granted: function (purpose) {
      if (cfg) return !!decisions[purpose];
      return !!(state && state.c[purpose] === true);  // before the config: the cookie
    },
    decisions: function () { return Object.assign({}, decisions); },
    on: function (event, fn) { if (event === "change") listeners.push(fn); },
    open: open
  };
  Object.defineProperty(api, "visitorId", { get: function () { return state ? state.v : visitorId; } });
  w.cmp = api;

  // -- start ---------------------------------------------------------------------------------------------

  function start(config) {
    cfg = config;
    var outcome = decide();
    apply(outcome, false);
    var whenBody = function () {
      build(outcome.need && !(state && flag("q") && validChoice()));
      if (state && flag("q")) send(false);  // a choice the server has not confirmed yet
      resolveReady(api);
    };
    if (d.body) whenBody(); else d.addEventListener("DOMContentLoaded", whenBody);
  }

  var lang = d.documentElement.lang || nav.language || "";
  fetch(origin + "/api/v1/sites/" + site + "/config?lang=" + encodeURIComponent(lang))
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(start)
    .catch(function () {
      // No config: run only what the cookie allowed, show nothing, and say so.
      resolveReady(api);
    });
})();
