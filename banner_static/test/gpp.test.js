// The GPP page API (src/gpp-stub.js, src/gpp.js) under node, in a small fake page: the stub's answers,
// the queue handed over, the order of events on a choice, and which string wins. The real banner in
// Chromium, with the server's strings, is tests/browser/test_gpp_api.py.
import assert from "node:assert/strict";
import test from "node:test";

// Strings the platform makes (consent/gpp.py): a Californian before a choice, after refusing, and nowhere.
const DEFAULTS = { string: "DBABrw~CVQqAAAAAACA.QA~BUoAAACA.QA", applicable_sections: [7, 8] };
const REFUSED = { string: "DBABrw~CVQVAAAAAACA.QA~BUUAAACA.QA", applicable_sections: [7, 8] };
let fresh = 0;

// A page: window, document, fetch and the runtime's window.cmp; answer(body) answers the lookup.
function page() {
  const listeners = { change: [], saved: [] }, messages = [];
  let answer, ready;
  const win = {
    frames: {},
    addEventListener: (type, fn) => messages.push(fn),
    cmp: {
      visitorId: "0190a1b2-0000-8000-8000-000000000000",
      on: (event, fn) => listeners[event].push(fn),
      ready: new Promise(resolve => { ready = resolve; })
    }
  };
  const body = { appendChild: frame => { win.frames[frame.name] = frame; } };
  globalThis.window = win;
  globalThis.document = {
    body, documentElement: body, createElement: () => ({}), getElementById: () => null,
    currentScript: { dataset: { lookup: "https://cmp.example/api/v1/sites/demo/decisions/" } }
  };
  const asked = [];
  globalThis.fetch = url => { asked.push(url); return new Promise(resolve => { answer = resolve; }); };
  return {
    win, asked, messages, ready,
    stub: () => import(`../src/gpp-stub.js?${++fresh}`),
    load: () => import(`../src/gpp.js?${++fresh}`),
    lookup: (gpp, ok = true) => answer(ok ? { json: () => Promise.resolve({ gpp }) } : Promise.reject(new Error("offline"))),
    fire: (event, detail) => listeners[event].forEach(fn => fn(detail))
  };
}

const call = (command, parameter) => new Promise(resolve => window.__gpp(command, (data, success) => resolve({ data, success }), parameter));
const settled = () => new Promise(resolve => setTimeout(resolve, 0));  // the page's promise callbacks have run

test("the stub answers ping at once, registers listeners and queues the rest", async () => {
  const p = page();
  await p.stub();
  const { data, success } = await call("ping");
  assert.equal(success, true);
  assert.deepEqual([data.gppVersion, data.cmpStatus, data.signalStatus, data.cmpId], ["1.1", "stub", "not ready", 0]);
  const events = [];
  window.__gpp("addEventListener", e => events.push(e));
  assert.deepEqual([events[0].eventName, events[0].listenerId, events[0].data], ["listenerRegistered", 1, true]);
  window.__gpp("getField", () => assert.fail("answered before the string came"), "usnat.SaleOptOut");
  assert.equal(window.__gpp.q.length, 1);
  assert.ok(p.win.frames.__gppLocator, "no __gppLocator frame for calls from other frames");
});

test("the page API takes over: queued calls and stub listeners are answered once the lookup's string comes", async () => {
  const p = page();
  await p.stub();
  const events = [];
  window.__gpp("addEventListener", e => events.push(e));
  const queued = call("getField", "usca.SaleOptOut");
  await p.load();
  assert.equal(p.asked[0], "https://cmp.example/api/v1/sites/demo/decisions/0190a1b2-0000-8000-8000-000000000000");
  assert.equal((await call("ping")).data.cmpStatus, "loading");
  p.lookup(DEFAULTS);
  assert.deepEqual(await queued, { data: 2, success: true });
  assert.deepEqual(events.map(e => [e.eventName, e.data]), [["listenerRegistered", true], ["cmpStatus", "loaded"], ["signalStatus", "ready"]]);
  const ping = events[2].pingData;
  assert.equal(ping.gppString, DEFAULTS.string);
  assert.deepEqual(ping.applicableSections, [7, 8]);
  assert.deepEqual(ping.sectionList, [7, 8]);
  assert.equal(ping.parsedSections.usnat.SaleOptOut, 2);
  assert.ok(ping.supportedAPIs.includes("8:usca"));
  assert.deepEqual(await call("hasSection", "usca"), { data: true, success: true });
  assert.deepEqual(await call("hasSection", "usva"), { data: false, success: true });
  assert.deepEqual(await call("getSection", "usva"), { data: null, success: false });
  assert.equal((await call("getSection", "usnat")).data.Gpc, false);
  assert.deepEqual(await call("noSuchCommand"), { data: null, success: false });
});

test("a choice: signalStatus not ready, then sectionChange for each section, then ready with the write's string", async () => {
  const p = page();
  await p.load();
  p.lookup(DEFAULTS);
  await settled();
  const events = [];
  const id = (await call("addEventListener")).data.listenerId;
  window.__gpp("addEventListener", e => events.push([e.eventName, e.data, e.pingData.gppString]));
  p.fire("change", { source: "banner" });
  p.fire("saved", { gpp: REFUSED });
  assert.deepEqual(events.slice(1), [
    ["signalStatus", "not ready", DEFAULTS.string],
    ["sectionChange", "usnat", REFUSED.string],
    ["sectionChange", "usca", REFUSED.string],
    ["signalStatus", "ready", REFUSED.string]
  ]);
  assert.deepEqual(await call("getField", "usnat.SaleOptOut"), { data: 1, success: true });
  assert.deepEqual(await call("removeEventListener", id), { data: true, success: true });
  assert.deepEqual(await call("removeEventListener", id), { data: false, success: true });
});

test("a lookup answered after a choice was saved does not undo the choice", async () => {
  const p = page();
  await p.load();
  p.fire("saved", { gpp: REFUSED });
  p.lookup(DEFAULTS);
  await settled();
  assert.equal((await call("ping")).data.gppString, REFUSED.string);
});

test("no string to be had: cmpStatus error, and the calls waiting for it get null", async () => {
  const p = page();
  await p.load();
  const waiting = call("getSection", "usnat");
  p.lookup(null, false);
  assert.deepEqual(await waiting, { data: null, success: false });
  assert.equal((await call("ping")).data.cmpStatus, "error");
});

test("calls from other frames are answered by postMessage with their callId", async () => {
  const p = page();
  await p.stub();
  const replies = [];
  const source = { postMessage: (message, origin) => replies.push([message, origin]) };
  p.messages.forEach(fn => fn({ data: JSON.stringify({ __gppCall: { command: "ping", callId: "c1" } }), source }));
  p.messages.forEach(fn => fn({ data: { __gppCall: { command: "ping", callId: "c2" } }, source }));
  p.messages.forEach(fn => fn({ data: "not for us", source }));
  assert.equal(replies.length, 2);
  const first = JSON.parse(replies[0][0]).__gppReturn;  // a string call gets a string reply
  assert.deepEqual([first.callId, first.success, first.returnValue.cmpStatus], ["c1", true, "stub"]);
  assert.equal(replies[1][0].__gppReturn.callId, "c2");
});

test("another CMP's __gpp is left alone", async () => {
  const p = page();
  const theirs = () => "theirs";
  window.__gpp = theirs;
  await p.stub();
  await p.load();
  assert.equal(window.__gpp, theirs);
  assert.deepEqual(p.asked, []);
});
