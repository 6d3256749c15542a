// The page API, window.cmp, and its events: "change" (cmp.on('change') and the cmp:change DOM
// event), once for each choice (and once more should the server's answer differ), and "saved" (cmp.on('saved'), cmp:saved), once
// the server has confirmed a choice, so a tag asking the lookup API from then on gets the new answer.
const listeners = { change: [], saved: [] };
let api, resolveReady, last;

// p: {granted(purpose), decisions(), open(), visitorId (a getter), identify(assertion)}, which becomes window.cmp
// with its version, ready and on().
export function publish(version, p) {
  window.cmp = api = Object.assign(p, {
    version,
    ready: new Promise(resolve => { resolveReady = resolve; }),
    on: (event, fn) => { if (listeners[event]) listeners[event].push(fn); }
  });
}

export const ready = () => resolveReady(api);

function fire(event, detail) {
  // One listener's error must not keep the others from hearing of it.
  listeners[event].forEach(fn => { try { fn(detail); } catch (e) { setTimeout(() => { throw e; }); } });
  document.dispatchEvent(new CustomEvent("cmp:" + event, { detail }));
}

export function emit(detail) {
  const now = JSON.stringify(detail.decisions);
  if (detail.source === "server" && now === last) return;  // the server confirming the banner's decisions
  last = now;
  fire("change", detail);
}

export const emitSaved = detail => fire("saved", detail);
