// The clean-up (src/cleanup.js) against a cookie jar that keeps a browser's rules: a cookie
// lives on a host (host-only) or on a domain and its subdomains; a write may name the page's
// host or a parent domain, never a public suffix; Max-Age=0 deletes the cookie of that
// name, domain and path. tests/unit/test_banner_cleanup.py runs this file.
import { test } from "node:test";
import assert from "node:assert/strict";

const PUBLIC_SUFFIXES = new Set(["example", "co.uk", "uk"]);

class Jar {
  constructor(host) {
    this.host = host;
    this.cookies = [];   // {name, value, domain ("." + domain, or the host when host-only), path}
    this.writes = [];    // every write, as the page made it
  }

  visible() {
    return this.cookies.filter(c => c.domain === this.host || ("." + this.host).endsWith(c.domain));
  }

  get cookie() {
    return this.visible().map(c => `${c.name}=${c.value}`).join("; ");
  }

  set cookie(text) {
    this.writes.push(text);
    const [pair, ...attributes] = text.split(";").map(s => s.trim());
    const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
    const attrs = Object.fromEntries(attributes.map(a => [a.split("=")[0].toLowerCase(), a.split("=")[1]]));
    let domain = this.host;
    if (attrs.domain) {
      const bare = attrs.domain.replace(/^\./, "");
      // The browser refuses a domain the page is not on, and a public suffix.
      if (PUBLIC_SUFFIXES.has(bare) || !(this.host === bare || this.host.endsWith("." + bare))) return;
      domain = "." + bare;
    }
    const path = attrs.path || "/";
    this.cookies = this.cookies.filter(c => !(c.name === name && c.domain === domain && c.path === path));
    if (attrs["max-age"] !== "0") this.cookies.push({ name, value, domain, path });
  }

  has(name, domain) {
    return this.cookies.some(c => c.name === name && c.domain === domain);
  }
}

class Store {
  constructor(keys) { keys.forEach(k => { this[k] = "1"; }); }
  removeItem(key) { delete this[key]; }
}

// cleanup.js reads the page's globals once, as it is loaded; each test gives it a fresh page.
async function page(host, cookies, storage = []) {
  const jar = new Jar(host);
  for (const [name, domain] of cookies) jar.cookies.push({ name, value: "1", domain, path: "/" });
  globalThis.document = jar;
  globalThis.location = { hostname: host };
  globalThis.window = { localStorage: new Store(storage), sessionStorage: new Store(storage) };
  const { clean } = await import(`../src/cleanup.js?${Math.random()}`);
  return { jar, clean, store: globalThis.window };
}

const RULES = { cookies: { analytics: ["_ga", "_ga_*", "_gid"], advertising: ["_fbp"] }, storage: { analytics: ["ZD-suid", "_hj*"] } };

test("a declined purpose's cookies go from the page's host and from each parent domain it may write", async () => {
  const { jar, clean } = await page("www.shop.example", [
    ["_ga", ".shop.example"],      // as GA writes it: the widest domain it may
    ["_gid", "www.shop.example"],  // host-only
    ["_ga_ABC123", ".shop.example"],
    ["_ga", "www.shop.example"],   // the same name on the host too
    ["cart", ".shop.example"],     // the shop's own: not in the inventory
    ["_fbp", ".shop.example"],     // advertising: granted
  ]);
  clean(RULES, { analytics: false, advertising: true });
  assert.deepEqual(jar.cookies.map(c => [c.name, c.domain]).sort(), [["_fbp", ".shop.example"], ["cart", ".shop.example"]]);
  // What the page wrote for _ga: a deletion on the host and on .shop.example, each Max-Age=0.
  const ga = jar.writes.filter(w => w.startsWith("_ga="));
  assert.ok(ga.includes("_ga=; Max-Age=0; path=/"), "on the host (host-only)");
  assert.ok(ga.includes("_ga=; Max-Age=0; path=/; domain=.shop.example"), "on the parent domain");
  // Every write is a deletion, so one naming the public suffix (.example), which the browser
  // refuses anyway, can create nothing there.
  assert.ok(jar.writes.every(w => / Max-Age=0;/.test(w)));
  assert.ok(!jar.cookies.some(c => c.domain === ".example"));
});

test("under a two-label public suffix, the registrable domain is reached and the suffix is not written", async () => {
  const { jar, clean } = await page("www.shop.example.co.uk", [
    ["_ga", ".example.co.uk"], ["_gid", ".shop.example.co.uk"], ["_gid", "www.shop.example.co.uk"], ["cart", ".example.co.uk"],
  ]);
  clean(RULES, { analytics: false });
  assert.deepEqual(jar.cookies.map(c => [c.name, c.domain]), [["cart", ".example.co.uk"]]);
  const domains = jar.writes.filter(w => w.startsWith("_ga=")).map(w => (w.match(/domain=(.*)$/) || [, "(host)"])[1]);
  assert.deepEqual(domains.slice(0, 3), ["(host)", ".shop.example.co.uk", ".example.co.uk"]);
});

test("a granted purpose's cookies and storage keys stay, and nothing is written", async () => {
  const { jar, clean, store } = await page("www.shop.example", [["_ga", ".shop.example"]], ["ZD-suid", "_hjSession"]);
  clean(RULES, { analytics: true, advertising: true });
  assert.ok(jar.has("_ga", ".shop.example"));
  assert.deepEqual(jar.writes, []);
  assert.deepEqual(Object.keys(store.localStorage).sort(), ["ZD-suid", "_hjSession"]);
});

test("a declined purpose's storage keys go from both stores, by name and by prefix", async () => {
  const { clean, store } = await page("www.shop.example", [], ["ZD-suid", "_hjSession", "_hjid", "basket"]);
  clean(RULES, { analytics: false });
  assert.deepEqual(Object.keys(store.localStorage), ["basket"]);
  assert.deepEqual(Object.keys(store.sessionStorage), ["basket"]);
});
