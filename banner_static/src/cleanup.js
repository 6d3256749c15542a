// Clean-up: what a declined purpose left behind. The scanner's inventory names, per
// purpose, the first-party cookies and storage keys its trackers set (GET
// /api/v1/sites/<site>/trackers; a trailing * marks a prefix). Whenever a purpose is
// denied, they are deleted: cookies on the page's host and on each parent domain a
// page may write (the browser refuses public suffixes), storage keys in both stores.
const d = document;

const matches = (names, name) => names.some(n => n.slice(-1) === "*" ? name.indexOf(n.slice(0, -1)) === 0 : n === name);

export function clean(rules, granted) {
  const parts = location.hostname.split(".");
  for (const purpose in rules.cookies) {
    if (granted[purpose]) continue;
    const names = rules.cookies[purpose];
    d.cookie.split("; ").forEach(pair => {
      const name = pair.split("=")[0];
      if (!matches(names, name)) return;
      for (let i = 0; i < parts.length; i++) {
        const domain = i ? "; domain=." + parts.slice(i).join(".") : "";
        d.cookie = name + "=; Max-Age=0; path=/" + domain;
      }
    });
  }
  for (const purpose in rules.storage) {
    if (granted[purpose]) continue;
    ["localStorage", "sessionStorage"].forEach(name => {
      try {
        const store = window[name];
        Object.keys(store).forEach(key => { if (matches(rules.storage[purpose], key)) store.removeItem(key); });
      } catch (e) { /* storage refused to this page (a sandboxed frame, blocked storage) */ }
    });
  }
}
