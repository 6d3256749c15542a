// The banner, the preferences dialog and the iframe placeholders, each in a shadow
// root styled by the banner's own stylesheet. Everything is inserted as text, never
// as HTML, and nothing needs an inline script or style (a strict CSP is fine).
const d = document;
let ui = null;       // the banner's elements, once built
let opener = null;   // what had focus before the dialog opened
let css;             // the stylesheet's URL, for a <link> where a sheet cannot be adopted
let text;            // the stylesheet's text, when it came with the site script or was fetched
let sheet;           // the constructed stylesheet every shadow root adopts (no request, no wait)
const rows = {};     // the dialog's row of each purpose, where its cookie declaration goes

// Constructed stylesheets: applied at once, and not inline styles (a strict CSP is fine).
export const canAdopt = "adoptedStyleSheets" in Document.prototype && "replaceSync" in CSSStyleSheet.prototype;

export function useStyles(cssText, href) { text = cssText; css = href; }

function el(tag, attrs, text, ns) {
  const node = ns ? d.createElementNS(ns, tag) : d.createElement(tag);
  for (const a in attrs) node.setAttribute(a, attrs[a]);
  if (text != null) node.textContent = text;  // text, never HTML
  return node;
}

// Styles a shadow root; calls shown() once it is styled (at once with an adopted sheet).
function style(root, cfg, shown) {
  if (canAdopt && text != null) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(text + (cfg.theme ? cfg.theme.css : ""));
    }
    root.adoptedStyleSheets = [sheet];
    shown();
  } else {
    const link = el("link", { rel: "stylesheet", href: css });
    link.addEventListener("load", shown);  // appear styled, not reflowed
    root.appendChild(link);
  }
}

// act(action) is called with the data-action of each button pressed.
function button(action, label, act) {
  const b = el("button", { type: "button", class: "btn", "data-action": action }, label);
  b.addEventListener("click", () => act(action));
  return b;
}

// view: {optOutSignal: an opt-out preference signal is honoured}; handlers: {act, rightsUrl, receipt,
// opened: called each time the dialog opens}.
export function build(cfg, view, handlers, show) {
  const t = cfg.ui, act = handlers.act, theme = cfg.theme || {};
  const host = el("div", { id: "cmp-root" });
  const root = host.attachShadow({ mode: "open" });
  const optOut = cfg.regime === "opt_out";
  // The centred modal is a modal <dialog> (focus kept in it); the bar and the corner box are a region.
  const modal = theme.position === "modal";
  const banner = el(modal ? "dialog" : "section", { class: "banner " + (theme.position || "bar"), "aria-labelledby": "cmp-title", dir: cfg.direction, lang: cfg.language });
  if (modal) {
    banner.tabIndex = -1;  // focus goes to the dialog, not to one of its answers (showBanner)
    banner.addEventListener("cancel", e => e.preventDefault());  // Escape is no answer
  }
  else { banner.setAttribute("role", "region"); banner.hidden = true; }
  if (theme.logo) banner.appendChild(el("img", { class: "logo", src: theme.logo, alt: cfg.name, width: "120", height: "32" }));
  banner.appendChild(el("h2", { id: "cmp-title" }, t.title));
  banner.appendChild(el("p", {}, optOut ? t.notice : t.description));
  if (view.optOutSignal) banner.appendChild(el("p", { class: "gpc" }, t.gpc_honored));
  const actions = el("div", { class: "actions" });
  const buttons = optOut ? [["do-not-sell", t.do_not_sell], ["customize", t.customize], ["acknowledge", t.close]]
    : [["accept", t.accept_all], ["reject", t.reject_all], ["customize", t.customize]];
  buttons.forEach(([action, label]) => actions.appendChild(button(action, label, act)));
  banner.appendChild(actions);
  if (cfg.policy.url) banner.appendChild(el("a", { href: cfg.policy.url, class: "link" }, t.policy));
  // Where US sections apply, the links US laws ask for (the CPRA's with its opt-out icon); both open the preferences.
  const us = cfg.us_privacy || {};
  if (us.privacy_choices_link) banner.appendChild(usLink("choices", t.privacy_choices, act, optOutIcon()));
  if (us.limit_sensitive_link) banner.appendChild(usLink("limit", t.limit_sensitive, act));
  root.appendChild(banner);
  const dialog = buildDialog(cfg, view, handlers);
  root.appendChild(dialog);
  d.body.insertBefore(host, d.body.firstChild);  // first in tab order
  ui = { host, root, banner, dialog, modal, opened: handlers.opened };
  // Shown only once styled: no flash of unstyled content, no fade, and no layout shift
  // (the banner is fixed, so it moves nothing on the page).
  style(root, cfg, () => { if (show) showBanner(); });
}

function usLink(action, label, act, icon) {
  const link = el("button", { type: "button", class: "link plain", "data-action": action });
  if (icon) link.appendChild(icon);
  link.appendChild(d.createTextNode(label));
  link.addEventListener("click", () => act("customize"));
  return link;
}

// The CPRA's opt-out icon, drawn here: a toggle, a tick on its white half and a cross on its blue half.
function optOutIcon() {
  const svg = "http://www.w3.org/2000/svg";
  const icon = el("svg", { viewBox: "0 0 30 14", width: "30", height: "14", "aria-hidden": "true" }, null, svg);
  [["M7 .5h16a6.5 6.5 0 010 13H7A6.5 6.5 0 017 .5z", "#fff", "#06f"], ["M16.5.5H23a6.5 6.5 0 010 13H12z", "#06f"],
   ["M4.8 7.2l2.3 2.3 4.2-4.6", "none", "#06f"], ["M19.5 4.5l5 5m0-5l-5 5", "none", "#fff"]]
    .forEach(([path, fill, stroke]) => icon.appendChild(el("path", { d: path, fill, stroke: stroke || "none", "stroke-width": "1.5" }, null, svg)));
  return icon;
}

function buildDialog(cfg, view, handlers) {
  const t = cfg.ui, act = handlers.act;
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
  rights.addEventListener("click", () => { rights.href = handlers.rightsUrl(); });
  links.appendChild(rights);
  const receipt = el("button", { type: "button", class: "link plain", "data-action": "receipt" }, t.receipt);
  receipt.hidden = !view.chosen;  // nothing to download before a choice
  receipt.addEventListener("click", handlers.receipt);
  links.appendChild(receipt);
  dialog.appendChild(links);
  dialog.appendChild(button("close", t.close, act));
  dialog.addEventListener("close", restoreFocus);
  return dialog;
}

// Opens the preferences with each purpose's box as decided (purpose -> granted).
export function open(decisions, naiOptOut) {
  if (!ui) return;
  const active = d.activeElement;
  opener = active === ui.host ? ui.root.activeElement : active;
  boxes().forEach(box => { box.checked = !!decisions[box.getAttribute("data-purpose")]; });
  ui.dialog.querySelector("#cmp-nai").checked = naiOptOut;
  if (!ui.dialog.open) {
    // The bar or box steps aside while the dialog asks (the dialog's backdrop would not dim it);
    // it comes back if the dialog closes without a choice.
    if (!ui.modal && !ui.banner.hidden) { ui.banner.hidden = true; ui.restore = true; }
    ui.dialog.showModal();
  }
  if (ui.opened) ui.opened();
  const first = ui.dialog.querySelector("input:not([disabled]),button");
  if (first) first.focus();
}

// The site's cookie declaration, under each purpose: {purpose: {summary, lists: [[heading, [line…]]…]}},
// worded by the server (scanner/inventory.py) and inserted as text, collapsed.
export function declare(purposes) {
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

// What the dialog's boxes say: {choices: purpose -> checked, nai: checked}.
export function picked() {
  const choices = {};
  boxes().forEach(box => { choices[box.getAttribute("data-purpose")] = box.checked; });
  return { choices, nai: ui.dialog.querySelector("#cmp-nai").checked };
}

const boxes = () => ui.dialog.querySelectorAll("input[data-purpose]:not([disabled])");

// The visitor must confirm a grant that an opt-out preference signal would deny.
export function askAboutConflict(decisions, naiOptOut) {
  open(decisions, naiOptOut);
  const box = ui.dialog.querySelector(".conflict");
  box.hidden = false;
  box.querySelector("button").focus();
}

// A choice was made (or forgotten): its receipt can be downloaded (or not).
export function offerReceipt(offered = true) {
  if (ui) ui.dialog.querySelector("[data-action=receipt]").hidden = !offered;
}

// Shows the banner again (the server no longer holds the choice).
export function ask() {
  if (ui) showBanner();
}

export function closeDialog() {
  if (ui.dialog.open) ui.dialog.close();
}

// The conflict is answered: the dialog may close with the next choice.
export function settleConflict() {
  ui.dialog.querySelector(".conflict").hidden = true;
}

export function saveFile(blob, name) {
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  ui.root.appendChild(a);
  a.click();
  a.remove();
}

function restoreFocus() {
  if (ui.restore) { ui.restore = false; showBanner(); }
  if (opener && opener.focus && opener.isConnected) opener.focus();
  opener = null;
}

function showBanner() {
  if (ui.modal) { ui.banner.showModal(); return ui.banner.focus(); }
  ui.banner.hidden = false;
  // Keep focused page elements visible above the bar (WCAG 2.4.11).
  if (ui.banner.classList.contains("bar")) d.documentElement.style.scrollPaddingBottom = ui.banner.offsetHeight + "px";
}

// After a choice: the banner goes, and the dialog too unless it still asks about a conflict.
export function hide() {
  if (!ui) return;
  ui.restore = false;  // answered: the banner does not come back
  if (ui.modal) { if (ui.banner.open) ui.banner.close(); } else ui.banner.hidden = true;
  d.documentElement.style.scrollPaddingBottom = "";
  if (ui.dialog.open && ui.dialog.querySelector(".conflict").hidden) ui.dialog.close();
}

// Shows, in the iframe's place, what it waits for and a button to allow it.
export function placeholder(cfg, frame, purpose, allow) {
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
  const button = el("button", { type: "button", class: "btn" }, cfg.ui.allow.replace("{purpose}", name));
  button.addEventListener("click", allow);
  box.appendChild(button);
  root.appendChild(box);
  frame.hidden = true;
  frame.parentNode.insertBefore(holder, frame);
  frame.cmpHolder = holder;
  style(root, cfg, () => { box.hidden = false; });
}
