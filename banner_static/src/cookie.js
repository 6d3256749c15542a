// The first-party cookie cmp_<site>, the banner's memory of the visitor's choice:
//   1!<visitor>!<token>!<policy>!<time base36>!<granted~keys>!<denied~keys>!<flags>
// flags: g = the choice's sale-or-sharing grants were confirmed over an opt-out preference
// signal (the visitor confirmed the conflict in the dialog), n = NAI opt-out, s = GPC seen by the server, q = not yet
// confirmed by the server. A stored choice is {v, t, p, ts, c, f} in that order.

const UUID = /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

// A value that does not parse (corrupted, truncated, edited) is no choice: ask again.
// So is one made in the future (it would never expire): a day of clock skew is allowed.
export function parse(value, now) {
  try {
    const f = value.split("!");
    if (f.length !== 8 || f[0] !== "1" || !UUID.test(f[1]) || !/^[\w-]+$/.test(f[2]) || !/^[0-9a-z]{1,9}$/.test(f[4]) ||
        !/^[\w~-]*$/.test(f[5] + f[6]) || !/^[gnsq]*$/.test(f[7])) return null;
    const ts = parseInt(f[4], 36), c = Object.create(null), p = decodeURIComponent(f[3]);
    if (!(ts > 0) || ts > now + 86400) return null;
    f[5].split("~").forEach(key => { if (key) c[key] = true; });
    f[6].split("~").forEach(key => { if (key) c[key] = false; });
    return { v: f[1], t: f[2], p, ts, c, f: f[7] };
  } catch (e) {
    return null;  // a bad percent escape in the policy version
  }
}

export function format(s) {
  const yes = [], no = [];
  for (const key in s.c) (s.c[key] ? yes : no).push(key);
  return ["1", s.v, s.t, encodeURIComponent(s.p || ""), s.ts.toString(36), yes.join("~"), no.join("~"), s.f].join("!");
}

export function read(name) {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m && parse(m[1], Date.now() / 1000);
}

// One place for the cookie's attributes: first-party, the whole site (or its parent domain, which the
// site's subdomains then share: the config's cookie_domain), Lax, Secure on https pages.
const set = (name, value, seconds, domain) => {
  document.cookie = `${name}=${value}; Max-Age=${seconds}; Path=/; SameSite=Lax` + (domain ? "; Domain=" + domain : "") +
    (location.protocol === "https:" ? "; Secure" : "");
};

// cfg: the site's config (its consent lifetime, its cookie domain).
export const write = (name, s, cfg) => set(name, format(s), cfg.consent_lifetime_days * 86400, cfg.cookie_domain);

export const forget = (name, cfg) => set(name, "", 0, cfg.cookie_domain);

export const hasFlag = (s, name) => !!s && s.f.indexOf(name) >= 0;

export function setFlag(s, name, on) {
  s.f = s.f.replace(name, "") + (on ? name : "");
}
