/*
 * The IAB GPP page API, window.__gpp (CMP API 1.1), bundled by esbuild into dist/gpp.min.js.
 *
 * The runtime loads it, pinned by its SRI hash, only where the config says US sections apply
 * (us_privacy: cmp.js), from /c/v/<version>/gpp.min.js. It takes over the stub (gpp-stub.js, inlined
 * in the site script; installed here when it was not), answers the calls queued on it, and:
 *   - asks the lookup API for the visitor's GPP string (the id the banner holds, even before a first
 *     choice: the server answers defaults then), and takes the write's string after each choice
 *     (window.cmp's "saved"); the platform makes every string (consent/gpp.py), the page never does;
 *   - answers ping, addEventListener, removeEventListener, hasSection, getSection and getField, the
 *     sections read by gpp-decode.js (getSection's answer is the IAB library's: one object per section);
 *   - fires listenerRegistered, cmpStatus, cmpDisplayStatus, signalStatus and sectionChange.
 * cmpId is 0: the platform is not a CMP registered with the IAB.
 */
import { install, ping as stubPing } from "./gpp-stub.js";
import { LAYOUTS, decode, query } from "./gpp-decode.js";

const w = window, d = document;
const me = d.currentScript;
install();  // where the site script did not (the versioned runtime)
const stub = w.__gpp;
const SUPPORTED = Object.keys(LAYOUTS).map(id => id + ":" + LAYOUTS[id][0]);
const copy = x => JSON.parse(JSON.stringify(x));

if (stub && stub.q) start();  // else another CMP's __gpp is on the page: it stays the one

function start() {
  let status = stubPing("loading");
  let decoded = { sectionIds: [], sections: {} };
  let from = 0;  // where the string came from: 0 nowhere yet, 1 the lookup, 2 a write (newer)
  const listeners = {};
  stub.events.forEach(e => { if (e.callback) listeners[e.id] = e.callback; });
  let nextId = stub.events.length + 1;
  const waiting = [];  // hasSection, getSection, getField asked before the string came

  const pingData = () => Object.assign({}, status, {
    supportedAPIs: SUPPORTED.slice(), sectionList: decoded.sectionIds.slice(), parsedSections: copy(decoded.sections),
    applicableSections: status.applicableSections.slice()
  });

  function fire(eventName, data) {
    Object.keys(listeners).forEach(id => {
      // One listener's error must not keep the others from hearing of it.
      try { listeners[id]({ eventName, listenerId: +id, data, pingData: pingData() }, true); }
      catch (e) { setTimeout(() => { throw e; }); }
    });
  }

  function set(field, value) {
    if (status[field] === value) return;
    status[field] = value;
    fire(field, value);
  }

  function answer(command, callback, parameter) {
    const data = status.cmpStatus === "loaded" ? query(decoded, command, parameter) : null;
    callback(data, data !== null);
  }

  function api(command, callback, parameter) {
    if (typeof callback !== "function") return;  // 1.1: every answer goes to the callback
    if (command === "ping") callback(pingData(), true);
    else if (command === "addEventListener") {
      const id = nextId++;
      listeners[id] = callback;
      callback({ eventName: "listenerRegistered", listenerId: id, data: true, pingData: pingData() }, true);
    } else if (command === "removeEventListener") {
      const found = parameter in listeners;
      delete listeners[parameter];
      callback(found, true);
    } else if (/^(hasSection|getSection|getField)$/.test(command)) {
      if (status.cmpStatus === "loading") waiting.push([command, callback, parameter]);
      else answer(command, callback, parameter);
    } else callback(null, false);
  }

  // A string from the server ({string, applicable_sections}): the lookup's (1) or a write's (2).
  function take(gpp, source) {
    if (source < from) return;  // the lookup answered after a choice was saved: the choice is newer
    let next;
    try { next = decode(gpp.string); } catch (e) { return fail(); }
    const loading = status.cmpStatus !== "loaded";
    const names = Object.keys(Object.assign({}, decoded.sections, next.sections));
    const changed = names.filter(n => JSON.stringify(decoded.sections[n]) !== JSON.stringify(next.sections[n]));
    if (!loading && changed.length) set("signalStatus", "not ready");  // always first in a chain of events
    decoded = next;
    from = source;
    status.gppString = gpp.string;
    status.applicableSections = gpp.applicable_sections.slice();
    if (loading) {
      set("cmpStatus", "loaded");
      waiting.splice(0).forEach(call => answer(...call));
    } else changed.forEach(name => fire("sectionChange", name));
    set("signalStatus", "ready");
  }

  // No string could be had: callers must not go on as if one had been given.
  function fail() {
    if (status.cmpStatus !== "loading") return;
    set("cmpStatus", "error");
    waiting.splice(0).forEach(call => answer(...call));
  }

  w.__gpp = api;
  stub.q.splice(0).forEach(call => api(...call));

  const cmp = w.cmp;
  fetch(me.dataset.lookup + encodeURIComponent(cmp.visitorId))
    .then(r => r.json())  // a 503 still carries the decisions, and the string made from them
    .then(a => a.gpp ? take(a.gpp, 1) : fail(), fail);
  // A choice was made: its string comes with the server's answer ("saved").
  cmp.on("change", e => { if (e.source === "banner" && status.cmpStatus === "loaded") set("signalStatus", "not ready"); });
  cmp.on("saved", e => { if (e.gpp) take(e.gpp, 2); });
  // Visible while the banner or the preferences show, else hidden; disabled where no banner was built
  // (a page on an origin the site does not list). Built once the runtime is ready.
  cmp.ready.then(() => {
    const host = d.getElementById("cmp-root"), root = host && host.shadowRoot;
    if (!root) return set("cmpDisplayStatus", "disabled");
    const update = () => set("cmpDisplayStatus", [].some.call(root.querySelectorAll(".banner,.prefs"),
      e => e.tagName === "DIALOG" ? e.open : !e.hidden) ? "visible" : "hidden");
    new MutationObserver(update).observe(root, { subtree: true, attributes: true, attributeFilter: ["hidden", "open"] });
    update();
  });
}
