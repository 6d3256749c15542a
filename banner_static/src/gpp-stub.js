// The IAB GPP page API's stub (CMP API 1.1), window.__gpp before the GPP file (gpp.js) has loaded.
// banner/embed.py inlines it, built as dist/gpp-stub.min.js, at the top of the site script where US
// sections apply (the config's us_privacy), so a caller that runs before the banner (Prebid.js's
// GPP module) finds the API at once; gpp.js installs it too when it was not inlined (the versioned
// runtime). As the spec wants of a stub: 'ping' and the listeners are answered at once, with the
// status 'stub'; every other command waits in the queue (q) for gpp.js, which answers it. Frames
// find the API by the __gppLocator frame and call it with postMessage (__gppCall / __gppReturn).
export const ping = status => ({
  gppVersion: "1.1", cmpStatus: status, cmpDisplayStatus: "hidden", signalStatus: "not ready", supportedAPIs: [],
  cmpId: 0, sectionList: [], applicableSections: [], gppString: "", parsedSections: {}
});

// Installs the stub unless a __gpp is there already (ours, or another CMP's, which stays the one).
export function install() {
  const w = window;
  if (w.__gpp) return;
  const events = [];  // {id, callback, parameter}: taken over by gpp.js
  const stub = (command, callback, parameter, version) => {
    if (typeof callback !== "function") return;  // 1.1: every answer goes to the callback
    const data = ping("stub");
    if (command === "ping") callback(data, true);
    else if (command === "addEventListener") {
      const id = events.push({ id: events.length + 1, callback, parameter });
      callback({ eventName: "listenerRegistered", listenerId: id, data: true, pingData: data }, true);
    } else if (command === "removeEventListener") {
      const found = events.filter(e => e.id === parameter)[0];
      if (found) found.callback = null;  // ids stay their index + 1
      callback(!!found, true);
    } else stub.q.push([command, callback, parameter, version]);
  };
  stub.q = [];
  stub.events = events;
  w.__gpp = stub;
  locator(w, document);
  w.addEventListener("message", e => answer(w, e));
}

install();

// The named frame callers in other frames look for (the document may have no body yet).
function locator(w, d) {
  if (w.frames.__gppLocator) return;
  const frame = d.createElement("iframe");
  frame.name = "__gppLocator";
  frame.hidden = true;
  frame.title = "";
  (d.body || d.documentElement).appendChild(frame);
}

// A call from another frame: answered with the same encoding (a string or an object) and the call's id.
function answer(w, e) {
  let data = e.data;
  const text = typeof data === "string";
  if (text && data.indexOf("__gppCall") < 0) return;
  try { if (text) data = JSON.parse(data); } catch (x) { return; }
  const call = data && data.__gppCall;
  if (!call || !e.source) return;
  w.__gpp(call.command, (returnValue, success) => {
    const reply = { __gppReturn: { returnValue, success, callId: call.callId } };
    e.source.postMessage(text ? JSON.stringify(reply) : reply, "*");
  }, call.parameter, call.version);
}
