// The banner, in a shadow root styled by the banner's own stylesheet; the preferences dialog and the
// iframe placeholders are in later.js, loaded the first time one is needed (lazy.js), since most page
// views need neither. Everything is inserted as text, never as HTML, and nothing needs an inline
// script or style (a strict CSP is fine).
const d = document;
let ui = null;       // the banner's elements, once built
let css;             // the stylesheet's URL, for a <link> where a sheet cannot be adopted
let text;            // the stylesheet's text, when it came with the site script or was fetched
let sheet;           // the constructed stylesheet every shadow root adopts (no request, no wait)

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

// What later.js shares with the banner.
export const shared = () => ({ el, button, style, showBanner, ui: () => ui });

// view: {optOutSignal: an opt-out preference signal is honoured, chosen: a receipt can be downloaded};
// handlers: {act: called with each button's action, origin and site: the platform's, visitor(): the stored choice, or
// the visitor this browser becomes with its first; keep(choices, answer): choices made elsewhere, kept as this browser's}.
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
  // Where US sections apply, the links US laws ask for (the CPRA's with its opt-out icon, drawn as the
  // config says); both open the preferences.
  const us = cfg.us_privacy || {};
  if (us.privacy_choices_link) banner.appendChild(usLink("choices", t.privacy_choices, act, optOutIcon(us.privacy_choices_icon)));
  if (us.limit_sensitive_link) banner.appendChild(usLink("limit", t.limit_sensitive, act));
  root.appendChild(banner);
  d.body.insertBefore(host, d.body.firstChild);  // first in tab order
  ui = { cfg, view, handlers, host, root, banner, modal };  // and dialog, once the second layer built it
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

// The CPRA's opt-out icon, drawn from the config's elements (banner/config.py): [tag, attributes] each,
// the first the <svg> and the others its paths.
function optOutIcon([svg, ...paths]) {
  const make = ([tag, attrs]) => el(tag, attrs, null, "http://www.w3.org/2000/svg");
  const icon = make(svg);
  paths.forEach(path => icon.appendChild(make(path)));
  return icon;
}

// A choice was made (or forgotten): its receipt can be downloaded (or not).
export function offerReceipt(offered = true) {
  if (!ui) return;
  ui.view.chosen = offered;
  const receipt = ui.root.querySelector("[data-action=receipt]");
  if (receipt) receipt.hidden = !offered;
}

// Shows the banner again (the server no longer holds the choice).
export function ask() {
  if (ui) showBanner();
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
  const dialog = ui.dialog;
  if (dialog && dialog.open && dialog.querySelector(".conflict").hidden) dialog.close();
}
