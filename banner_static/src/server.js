// The banner's requests to the platform it was loaded from. A failed answer rejects with the response
// itself: every caller only needs to know that it failed.

const checked = r => { if (!r.ok) throw r; return r; };
const json = url => fetch(url).then(checked).then(r => r.json());

export const fetchText = url => fetch(url).then(checked).then(r => r.text());

export const fetchConfig = (origin, site, lang) => json(`${origin}/api/v1/sites/${site}/config?lang=${encodeURIComponent(lang)}`);

// What the server holds for a visitor (the lookup API).
export const fetchDecision = (url, visitor) => json(url + encodeURIComponent(visitor));

// What the banner cleans up per purpose (the scanner's inventory); null when unavailable.
export const fetchTrackers = (origin, site) => json(`${origin}/api/v1/sites/${site}/trackers`).catch(() => null);

// The cookie declaration as the preferences dialog lists it (scanner/inventory.py), in its language.
export const fetchDeclaration = (origin, site, lang) =>
  json(`${origin}/api/v1/sites/${site}/declaration/dialog?lang=${encodeURIComponent(lang)}`).then(d => d.purposes);

// Resolves with {ok, answer} once the server has answered for good (a 4xx will not get
// better by retrying); rejects when the choice is worth sending again later.
export function postChoice(url, body) {
  // text/plain needs no CORS preflight; credentials carry the platform's NAI cookie.
  return fetch(url, {
    method: "POST", body: JSON.stringify(body), credentials: "include", keepalive: true,
    headers: { "Content-Type": "text/plain" }
  }).then(r => {
    if (r.status >= 500 || r.status === 429) throw r;  // worth sending again later
    return r.json().then(answer => ({ ok: r.ok, answer }));
  });
}

// Loads one of the runtime's own files (the same version, from the same platform) pinned by the SRI hash
// the build wrote into the runtime; resolves with what the file handed back through its <script> element.
export function script(url, integrity, data) {
  const s = document.createElement("script");
  Object.assign(s, { src: url, integrity, crossOrigin: "anonymous" });
  Object.assign(s.dataset, data);
  const loaded = new Promise((resolve, reject) => { s.onload = () => resolve(s.cmp); s.onerror = reject; });
  document.head.appendChild(s);
  return loaded;
}

// The signed receipt of the visitor's latest choice.
export const fetchReceipt = (origin, site, visitor) =>
  fetch(`${origin}/api/v1/sites/${site}/visitors/${visitor.v}/receipts?latest=1`, {
    headers: { Authorization: "Bearer " + visitor.t }
  }).then(checked).then(r => r.blob());
