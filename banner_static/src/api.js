// The page API, window.cmp, and its change events (cmp.on('change') and the cmp:change DOM event).
const listeners = [];
let api, resolveReady;

// p: {granted(purpose), decisions(), open(), visitorId()}
export function publish(version, p) {
  api = {
    version,
    ready: new Promise(resolve => { resolveReady = resolve; }),
    granted: p.granted,
    decisions: p.decisions,
    on: (event, fn) => { if (event === "change") listeners.push(fn); },
    open: p.open
  };
  Object.defineProperty(api, "visitorId", { get: p.visitorId });
  window.cmp = api;
}

export const ready = () => resolveReady(api);

export function emit(detail) {
  // One listener's error must not keep the others from hearing of the change.
  listeners.forEach(fn => { try { fn(detail); } catch (e) { setTimeout(() => { throw e; }); } });
  document.dispatchEvent(new CustomEvent("cmp:change", { detail }));
}
