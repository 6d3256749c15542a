// Who the visitor is to the platform: a secret token made in the browser, and the id derived
// from it (consent/identity.py), so a choice can be taken offline and sent later, and only the
// token's holder can write for the id: the id is the first 16 bytes of
// SHA-256("cmp-visitor-v1:" + token), as a UUID of version 8.

export const newVisitor = () => {
  const t = token();
  return { v: certifiedId(t), t, f: "" };
};

// A stored id that no token certifies (made by banners before 1.3): a new visitor takes over.
export const selfCertifying = s => !!s && s.v.charAt(14) === "8" && certifiedId(s.t) === s.v.toLowerCase();

export function certifiedId(t) {
  const b = sha256(utf8("cmp-visitor-v1:" + t)).slice(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.map(x => (x + 256).toString(16).slice(1)).join("");
  return h.replace(/(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
}

function token() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const utf8 = s => [...new TextEncoder().encode(s)];

// SHA-256 (FIPS 180-4) of a byte array, synchronous: crypto.subtle is async and absent from
// pages served over plain http, and the id must exist as soon as the page API does. Written for
// size: the constants are computed (first 32 bits of the fractional parts of the square roots of
// the first 8 primes, and of the cube roots of the first 64), the working variables are one array.
const K = [], IV = [];
(() => {
  const frac = x => ((x - Math.floor(x)) * 4294967296) | 0;
  for (let n = 2, found = 0; found < 64; n++) {
    let d = 2;
    while (n % d) d++;  // n's smallest divisor: n itself when n is prime (64 primes, up to 311: cheap)
    if (d === n) { IV[found] = frac(Math.sqrt(n)); K[found++] = frac(Math.cbrt(n)); }
  }
})();

function sha256(bytes) {
  let H = IV.slice(0, 8);
  const m = bytes.concat([0x80]);
  while (m.length % 64 !== 56) m.push(0);
  const bits = bytes.length * 8;  // ids hash a few hundred bytes: the length's upper 32 bits are 0
  m.push(0, 0, 0, 0, bits >>> 24, (bits >>> 16) & 255, (bits >>> 8) & 255, bits & 255);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < m.length; off += 64) {
    const w = [];
    let v = H;
    for (let i = 0; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      w[i] = i < 16 ? (m[off + 4 * i] << 24) | (m[off + 4 * i + 1] << 16) | (m[off + 4 * i + 2] << 8) | m[off + 4 * i + 3]
        : (w[i - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + w[i - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) | 0;
      const [a, b, c, d, e, f, g, h] = v;
      const t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      v = [(t1 + t2) | 0, a, b, c, (d + t1) | 0, e, f, g];
    }
    H = H.map((x, i) => (x + v[i]) | 0);
  }
  const out = [];
  H.forEach(x => out.push(x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255));
  return out;
}
