// What the banner does later, bundled into dist/later.min.js: the preferences dialog, the iframe
// placeholders, and the clean-up of what declined purposes left behind. The first frame needs none of
// them and most page views need no dialog, so the runtime loads this file from the platform (pinned by
// its SRI hash) the first time one is needed (lazy.js), and hands it what it shares with the banner
// (ui.js): the element helpers, the stylesheet, the banner's elements. The file hands back its
// functions through the <script> element that loaded it (no global a page could take over).
import { clean } from "./cleanup.js";
import { fetchDeclaration, fetchReceipt, fetchTrackers, postChoice } from "./server.js";

document.currentScript.cmp = ({ el, button, style, showBanner, ui: current }) => {
  const d = document;
  const rows = {};     // the dialog's row of each purpose, where its cookie declaration goes
  let opener = null;   // what had focus before the dialog opened
  let declared = null; // the cookie declaration (a promise), fetched when the dialog first opens

  function buildDialog(ui) {
    const { cfg, view, handlers } = ui, { act, origin, site, visitor } = handlers, t = cfg.ui;
    const dialog = el("dialog", { class: "prefs", "aria-labelledby": "cmp-prefs-title", dir: cfg.direction, lang: cfg.language });
    dialog.appendChild(el("h2", { id: "cmp-prefs-title" }, t.preferences));
    if ((cfg.us_privacy || {}).limit_sensitive_link) dialog.appendChild(el("p", { class: "limit" }, t.limit_sensitive_note));
    if (view.optOutSignal) dialog.appendChild(el("p", { class: "gpc" }, t.gpc_honored));
    cfg.purposes.forEach(p => {
      const row = el("div", { class: "purpose" });
      const id = "cmp-p-" + p.key;
      const box = el("input", { type: "checkbox", role: "switch", id, "data-purpose": p.key, "aria-describedby": id + "-d" });
      if (p.essential) { box.checked = true; box.disabled = true; }
      const label = el("label", { for: id });
      label.appendChild(box);
      label.appendChild(d.createTextNode(" " + p.name + (p.essential ? " (" + t.always_on + ")" : "")));
      row.appendChild(label);
      row.appendChild(el("p", { id: id + "-d", class: "desc" }, p.description));
      dialog.appendChild(rows[p.key] = row);
    });
    const nai = el("input", { type: "checkbox", id: "cmp-nai", "aria-describedby": "cmp-nai-d" });
    const naiLabel = el("label", { for: "cmp-nai", class: "nai" });
    naiLabel.appendChild(nai);
    naiLabel.appendChild(d.createTextNode(" " + t.nai_optout));
    dialog.append(naiLabel, el("p", { id: "cmp-nai-d", class: "desc" }, t.nai_explained));
    // Other ways to opt out: rows of [text, link or null] pieces (banner/config.py), links in a new tab.
    const other = el("ul", { class: "other", "aria-labelledby": "cmp-other" });
    cfg.opt_outs.forEach(item => {
      const li = el("li");
      item.forEach(([text, href]) => li.append(href ? el("a", { href, class: "link", target: "_blank", rel: "noopener noreferrer" }, text) : text, " "));
      other.appendChild(li);
    });
    dialog.append(el("h3", { id: "cmp-other" }, t.other_opt_outs), other);
    const conflict = el("div", { class: "conflict", role: "alert", hidden: "" });
    conflict.appendChild(el("p", {}, t.gpc_conflict));
    conflict.appendChild(button("confirm-gpc", t.confirm, act));
    dialog.appendChild(conflict);
    const actions = el("div", { class: "actions" });
    actions.appendChild(button("reject", t.reject_all, act));
    actions.appendChild(button("accept", t.accept_all, act));
    actions.appendChild(button("save", t.save, act));
    dialog.appendChild(actions);
    const links = el("p", { class: "links" });
    if (cfg.policy.url) links.appendChild(el("a", { href: cfg.policy.url, class: "link" }, t.policy));
    const rights = el("a", { href: "#", class: "link", "data-action": "rights" }, t.rights);
    // The visitor's rights page, with the id and the token that let it act for the visitor.
    rights.addEventListener("click", () => {
      const v = visitor(), url = `${origin}${cfg.endpoints.requests}?lang=${encodeURIComponent(cfg.language)}`;
      rights.href = view.chosen ? `${url}#visitor=${v.v}&token=${v.t}` : url;
    });
    links.appendChild(rights);
    const receipt = el("button", { type: "button", class: "link plain", "data-action": "receipt" }, t.receipt);
    receipt.hidden = !view.chosen;  // nothing to download before a choice
    receipt.addEventListener("click", () => {
      if (view.chosen) fetchReceipt(origin, site, visitor()).then(blob => saveFile(blob, `consent-receipt-${site}.json`))
        .catch(() => { /* nothing recorded yet, or offline: nothing to save */ });
    });
    links.appendChild(receipt);
    dialog.appendChild(links);
    dialog.appendChild(button("close", t.close, act));
    dialog.addEventListener("close", restoreFocus);
    ui.root.appendChild(dialog);
    return dialog;
  }

  // The dialog, built on its first opening.
  const dialog = () => { const ui = current(); return ui.dialog = ui.dialog || buildDialog(ui); };
  const boxes = () => dialog().querySelectorAll("input[data-purpose]:not([disabled])");

  // Opens the preferences with each purpose's box as decided (purpose -> granted).
  function open(decisions, naiOptOut) {
    const ui = current();
    if (!ui) return;  // asked before the page has a body: there is no banner to open from yet
    const dlg = dialog(), active = d.activeElement;
    opener = active === ui.host ? ui.root.activeElement : active;
    boxes().forEach(box => { box.checked = !!decisions[box.getAttribute("data-purpose")]; });
    dlg.querySelector("#cmp-nai").checked = naiOptOut;
    if (!dlg.open) {
      // The bar or box steps aside while the dialog asks (the dialog's backdrop would not dim it);
      // it comes back if the dialog closes without a choice.
      if (!ui.modal && !ui.banner.hidden) { ui.banner.hidden = true; ui.restore = true; }
      dlg.showModal();
    }
    // The cookie declaration, asked for only now (most page views never need it); without it (offline,
    // an error) the dialog works as before, and the next opening asks again.
    const { origin, site } = ui.handlers;
    declared = declared || fetchDeclaration(origin, site, ui.cfg.language).then(declare, () => { declared = null; });
    const first = dlg.querySelector("input:not([disabled]),button");
    if (first) first.focus();
  }

  // The site's cookie declaration, under each purpose: {purpose: {summary, lists: [[heading, [line…]]…]}},
  // worded by the server (scanner/inventory.py) and inserted as text, collapsed.
  function declare(purposes) {
    for (const key in purposes) {
      const p = purposes[key], box = el("details", { class: "decl" });
      box.appendChild(el("summary", {}, p.summary));
      p.lists.forEach(([heading, lines]) => {
        const list = el("ul");
        lines.forEach(line => list.appendChild(el("li", {}, line)));
        box.append(el("p", {}, heading), list);
      });
      if (rows[key]) rows[key].appendChild(box);
    }
  }

  function saveFile(blob, name) {
    const a = el("a", { href: URL.createObjectURL(blob), download: name });
    current().root.appendChild(a);
    a.click();
    a.remove();
  }

  function restoreFocus() {
    const ui = current();
    if (ui.restore) { ui.restore = false; showBanner(); }
    if (opener && opener.focus && opener.isConnected) opener.focus();
    opener = null;
  }

  // Consent that follows the person: the routes as this browser (its id and token)...
  function people(what, body) {
    const { cfg, handlers: h } = current(), me = h.visitor();
    return postChoice(h.origin + cfg.endpoints.people + what, Object.assign({ visitor_id: me.v, token: me.t }, body));
  }

  // ...and an answer that carries choices made elsewhere, kept as this browser's (cmp.js); rejects with its error.
  function take(r) {
    if (!r.ok) throw r.answer;
    const a = r.answer, choices = {};
    for (const key in a.decisions) if (a.decisions[key].reason === "choice") choices[key] = a.decisions[key].granted;
    current().handlers.keep(choices, a);
    return a;
  }

  return {
    open,
    clean,

    // A page on an origin the site does not list: say so, where its developer looks.
    refused(here, origin, site) {
      console.warn(`Consent banner: ${here} is not one of the allowed origins of site "${site}", so no banner is shown ` +
        `and no choice is saved. Add it under "Allowed origins" in the site's settings (admin: Sites, ${site}).`);
      fetchTrackers(origin, site);  // refused by CORS: the platform lists the origin for the site's admin
    },

    // What the dialog's boxes say: {choices: purpose -> checked, nai: checked}.
    picked() {
      const choices = {};
      boxes().forEach(box => { choices[box.getAttribute("data-purpose")] = box.checked; });
      return { choices, nai: dialog().querySelector("#cmp-nai").checked };
    },

    askAboutConflict(decisions, naiOptOut) {
      open(decisions, naiOptOut);
      const box = dialog().querySelector(".conflict");
      box.hidden = false;
      box.querySelector("button").focus();
    },

    // The conflict is answered: the dialog may close with the next choice.
    settleConflict() { dialog().querySelector(".conflict").hidden = true; },

    closeDialog() { if (dialog().open) dialog().close(); },

    // cmp.identify(assertion): the browser joins the signed-in person's shared choices.
    identify: assertion => window.cmp.ready.then(() => people("link", { assertion })).then(take),

    // A link to a sister site of the group carries the choice in its fragment (none when there is none).
    handOff(link) {
      const go = fragment => { location.href = link.href.split("#")[0] + fragment; };
      if (!current()) return go("");
      people("handoff", { to: link.dataset.cmpHandoff })
        .then(r => r.ok ? "#cmp-handoff=" + r.answer.handoff : "", () => "").then(go);
    },

    // On the sister site: the choice the link carried becomes this browser's; else the banner asks, if it would.
    redeem(show) {
      const handoff = location.hash.match(/cmp-handoff=([\w-]*)/)[1];
      history.replaceState(history.state, "", location.href.split("#")[0]);
      people("redeem", { handoff }).then(take).catch(() => { if (show) showBanner(); });
    },

    // Shows, in the iframe's place, what it waits for and a button to allow it.
    placeholder(cfg, frame, purpose, allow) {
      if (frame.cmpHolder) return;
      const p = cfg.purposes.filter(x => x.key === purpose)[0];
      const name = p ? p.name : purpose;
      const holder = el("div");
      // Take exactly the iframe's box, so swapping them moves nothing (CLS 0).
      const size = holder.style;
      size.display = "inline-block";
      size.width = frame.offsetWidth + "px";
      size.height = frame.offsetHeight + "px";
      size.verticalAlign = getComputedStyle(frame).verticalAlign;
      size.overflow = "auto";
      const root = holder.attachShadow({ mode: "open" });
      const box = el("div", { class: "ph", dir: cfg.direction, lang: cfg.language, hidden: "" });
      box.appendChild(el("p", {}, cfg.ui.blocked.replace("{purpose}", name)));
      const allowButton = el("button", { type: "button", class: "btn" }, cfg.ui.allow.replace("{purpose}", name));
      allowButton.addEventListener("click", allow);
      box.appendChild(allowButton);
      root.appendChild(box);
      frame.hidden = true;
      frame.parentNode.insertBefore(holder, frame);
      frame.cmpHolder = holder;
      style(root, cfg, () => { box.hidden = false; });
    }
  };
};
