// What the page may run: Google Consent Mode, the GA kill switches, and the gated
// tags (<script type="text/plain" data-cmp-purpose> and <iframe data-cmp-purpose data-src>),
// each run once, in document order, when its purpose is granted.
// Untagged scripts, iframes and images (a <picture>'s sources too) from a host the scanner found under a purpose
// (window.cmpBoot.block: purpose -> hosts, each covering its subdomains) are made
// gated tags of that purpose as they are added: by the parser (the observer runs
// before a parsed script does) or by a script (its scripts and images, on setting src or srcset).
import { MODE } from "./rule.js";

const w = window, d = document;
const HELD = "script,iframe,img,picture>source";
const GATED = "script[data-cmp-purpose],iframe[data-cmp-purpose],img[data-cmp-purpose],source[data-cmp-purpose]";
const block = (w.cmpBoot || {}).block || {};

let granted = null;     // purpose -> granted, once decided
let waiting;            // called with each iframe that waits for its purpose
export const ran = {};  // purpose -> something ran for it on this page
const queue = [];
const unfinished = [];  // gated elements the parser may still be filling in
const made = [];        // held images a script made: released with the page's, though not in the page
let running = false;

function gtag() { (w.dataLayer = w.dataLayer || []).push(arguments); }

// Before any tag: every optional storage denied until the visitor's answer is known.
export function consentDefault(gaIds) {
  const mode = { ad_personalization: "denied" };
  for (const k in MODE) mode[k] = "denied";
  mode.security_storage = mode.functionality_storage = "granted";
  mode.wait_for_update = 500;
  gtag("consent", "default", mode);
  gaDisable(gaIds, true);
}

// Tells Consent Mode and GA the decisions (purpose -> granted); release() then runs the tags.
export function update(decisions, mode, gaIds) {
  granted = decisions;
  gtag("consent", "update", mode);
  gaDisable(gaIds, !decisions.analytics);
}

export const release = () => { scan(d); made.forEach(scan); };

// onWaitingFrame(iframe, purpose): shows what the iframe waits for.
export function watch(onWaitingFrame) {
  waiting = onWaitingFrame;
  new MutationObserver(records => {
    again();  // first: what waited comes before what was just added, in document order
    records.forEach(r => r.addedNodes.forEach(n => {
      if (n.nodeType !== 1) return;
      hold(n);
      n.querySelectorAll(HELD).forEach(hold);
      scan(n);
    }));
  }).observe(d.documentElement, { childList: true, subtree: true });
  d.addEventListener("DOMContentLoaded", again);
  // What a script makes is held as its src (or srcset) is set: an image starts loading then, in the page or
  // not (new Image()), before any observer could hear of it.
  [[HTMLScriptElement, "src"], [HTMLImageElement, "src"], [HTMLImageElement, "srcset"]].forEach(([type, a]) => {
    const own = Object.getOwnPropertyDescriptor(type.prototype, a);
    Object.defineProperty(type.prototype, a, { get: own.get, set(url) {
      own.set.call(this, url);
      if (hold(this) && type === HTMLImageElement) made.push(this);  // a script runs only once it is in the page
    } });
  });
}

// The purpose of the most specific listed host that covers url's host, if it is not granted
// (hosts listed under "" never wait: the owner's essential ones under a listed parent).
function heldFor(url) {
  let host, best = 0, purpose;
  try { host = "." + new URL(url, location.href).hostname; } catch (e) { return; }
  for (const p in block) for (const h of block[p]) if (host.endsWith("." + h) && h.length > best) best = h.length, purpose = p;
  return granted && granted[purpose] ? "" : purpose;
}

// Makes an untagged script, iframe, image or picture source of a held host (its src's, else its srcset's first
// candidate's) a gated tag of its purpose. An image's srcset is held with its src: the browser would load a
// candidate in place of the src taken away.
function hold(el) {
  const url = el.matches(HELD) && !el.hasAttribute("data-cmp-purpose") && (el.getAttribute("src") || el.getAttribute("srcset"));
  const purpose = url && heldFor(url);
  if (!purpose) return;
  el.setAttribute("data-cmp-purpose", purpose);
  if (el.tagName === "SCRIPT") el.type = "text/plain";
  else move(el, "", "data-");
  return 1;
}

// Moves what makes an element request (src, srcset) from attributes named from + a to to + a.
const move = (el, from, to) => ["src", "srcset"].forEach(a => {
  const url = el.getAttribute(from + a);
  if (url != null) el.setAttribute(to + a, url), el.removeAttribute(from + a);
});

function gaDisable(ids, off) {
  (ids || []).forEach(id => { w["ga-disable-" + id] = off; });
}

function scan(root) {
  const found = [...root.querySelectorAll(GATED)];  // root: an element, or the document
  if (root.matches && root.matches(GATED)) found.unshift(root);
  found.forEach(el => {
    if (el.cmpQueued) return;
    // The parser inserts an element, then adds what is in it (an inline script's text, in pieces on a slow
    // connection or a busy machine): it is taken once the parser has moved past it, never run half-read.
    if (d.readyState === "loading" && !passed(el)) return unfinished.push(el);
    const purpose = el.getAttribute("data-cmp-purpose");
    if (granted && granted[purpose]) {
      el.cmpQueued = true;
      queue.push(el);
    } else if (granted && el.tagName === "IFRAME") {
      waiting(el, purpose);
    }
  });
  next();
}

// Whether the parser has moved past el: a node follows it, or follows one of its ancestors.
const passed = el => el && (el.nextSibling || passed(el.parentNode));

// Looks again at the elements that were unfinished: the parser has added nodes since, or has finished.
const again = () => unfinished.splice(0).forEach(scan);

function next() {
  if (running || !queue.length) return;
  const el = queue.shift();
  const purpose = el.getAttribute("data-cmp-purpose");
  if (!granted[purpose]) { el.cmpQueued = false; return next(); }  // revoked meanwhile
  ran[purpose] = true;
  if (el.tagName !== "SCRIPT") {
    if (el.cmpHolder) el.cmpHolder.remove();
    el.hidden = false;
    move(el, "data-", "");
    el.removeAttribute("data-cmp-purpose");
    return next();
  }
  const s = d.createElement("script");
  for (const a of el.attributes) {
    if (a.name !== "type" && a.name !== "data-cmp-purpose" && a.name !== "src") s.setAttribute(a.name, a.value);
  }
  const url = el.getAttribute("src") || el.getAttribute("data-src");
  if (url) {
    // Wait for an external script before the next one: document order.
    running = true;
    s.onload = s.onerror = () => { running = false; next(); };
    s.src = url;
  } else {
    s.text = el.text;
  }
  el.parentNode.replaceChild(s, el);
  next();
}
