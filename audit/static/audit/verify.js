/* Checks a consent receipt in the browser, with no secret: the same three checks as audit/checker.py.
 *
 * 1. the receipt's JWS, with the platform's published keys (/.well-known/jwks.json), by WebCrypto's Ed25519;
 * 2. its event's inclusion in the site's latest signed tree head (RFC 9162 §2.1.3.2);
 * 3. the consistency of that head with one saved earlier (RFC 9162 §2.1.4.2), and that the event, if its
 *    time is one the saved head promised to hold, was in it.
 * Sizes are counted with Number arithmetic (not 32-bit bit operations), exact up to 2^53 leaves.
 */
(function () {
  "use strict";

  var RECEIPT = "cmp-receipt+jws", TREE_HEAD = "cmp-tree-head+jws", STORE = "cmp-tree-heads";

  function Failed(message) { this.message = message; }
  function Pending(message) { this.message = message; }

  function bytesOf(b64url) {
    var s = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function jsonOf(b64url) { return JSON.parse(new TextDecoder().decode(bytesOf(b64url))); }
  function fromHex(h) {
    if (!/^([0-9a-f]{2})*$/.test(h)) throw new Failed("a proof holds something that is not a hash");
    var out = new Uint8Array(h.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
    return out;
  }
  function toHex(bytes) { return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join(""); }
  function same(a, b) { return a.length === b.length && a.every(function (x, i) { return x === b[i]; }); }
  function odd(n) { return n % 2 === 1; }
  function half(n) { return Math.floor(n / 2); }
  function powerOfTwo(n) { while (n > 1 && n % 2 === 0) n /= 2; return n === 1; }

  async function sha256(prefix, parts) {
    var length = 1 + parts.reduce(function (sum, p) { return sum + p.length; }, 0), all = new Uint8Array(length), at = 1;
    all[0] = prefix;
    parts.forEach(function (p) { all.set(p, at); at += p.length; });
    return new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  }
  function leafHash(id, hash) { return sha256(0, [new TextEncoder().encode(id + ":" + hash)]); }
  function nodeHash(left, right) { return sha256(1, [left, right]); }

  async function getJSON(url) {
    // Never from the browser's cache: the check is about the log as it is now.
    var response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (response.status === 404) return null;
    if (!response.ok) throw new Failed(url + " answered HTTP " + response.status);
    return response.json();
  }

  async function publishedKeys() {
    var set = await getJSON("/.well-known/jwks.json"), keys = {};
    for (var k of set.keys) {
      if (k.kty === "OKP" && k.crv === "Ed25519") {
        keys[k.kid] = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: k.x }, { name: "Ed25519" }, false, ["verify"]);
      }
    }
    return keys;
  }

  async function signed(token, typ, keys) {
    var parts = String(token || "").trim().split(".");
    if (parts.length !== 3) throw new Failed("not a JWS where a " + typ + " should be");
    var header = jsonOf(parts[0]), payload = jsonOf(parts[1]);
    if (header.alg !== "EdDSA" || header.typ !== typ) throw new Failed("not a " + typ + " signed with EdDSA");
    var key = keys[header.kid];
    if (!key) throw new Failed("signed with key " + header.kid + ", which the platform does not publish");
    var ok = await crypto.subtle.verify({ name: "Ed25519" }, key, bytesOf(parts[2]), new TextEncoder().encode(parts[0] + "." + parts[1]));
    if (!ok) throw new Failed("the " + typ + "'s signature does not match its content: altered, or not signed by the platform");
    return { header: header, payload: payload };
  }

  async function verifyInclusion(index, size, leaf, path, root) {
    if (!(index >= 0 && index < size)) throw new Failed("the leaf index is outside the tree");
    var fn = index, sn = size - 1, r = leaf;
    for (var p of path) {
      if (sn === 0) throw new Failed("the inclusion proof is too long");
      if (odd(fn) || fn === sn) {
        r = await nodeHash(p, r);
        while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = half(fn); sn = half(sn);
    }
    if (sn !== 0 || !same(r, root)) throw new Failed("the inclusion proof does not lead to the tree head's root");
  }

  async function verifyConsistency(first, second, firstRoot, secondRoot, path) {
    if (first === second) {
      if (path.length || !same(firstRoot, secondRoot)) throw new Failed("two different roots for the same tree size: the log was rewritten");
      return;
    }
    if (!(first > 0 && first < second) || !path.length) throw new Failed("no consistency proof between these tree heads");
    if (powerOfTwo(first)) path = [firstRoot].concat(path);
    var fn = first - 1, sn = second - 1;
    while (odd(fn)) { fn = half(fn); sn = half(sn); }
    var fr = path[0], sr = path[0];
    for (var c of path.slice(1)) {
      if (sn === 0) throw new Failed("the consistency proof is too long");
      if (odd(fn) || fn === sn) {
        fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
        while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn = half(fn); sn = half(sn);
    }
    if (sn !== 0 || !same(fr, firstRoot) || !same(sr, secondRoot)) {
      throw new Failed("the latest tree head does not extend the one you saved: the log was rewritten behind it");
    }
  }

  async function check(document, savedText, report) {
    if (!window.crypto || !crypto.subtle) throw new Failed("this browser has no WebCrypto here (the page needs HTTPS)");
    var keys;
    try { keys = await publishedKeys(); } catch (e) {
      if (e instanceof Failed) throw e;
      throw new Failed("this browser cannot check Ed25519 signatures: use the command in the README instead");
    }
    var receiptJws = await signed(document.jws, RECEIPT, keys), receipt = receiptJws.payload;
    var site = receipt.piiControllers[0].site, entry = receipt.auditLog, stamp = receipt.consentTimestamp;
    report("ok", "Signature valid: receipt " + receipt.receiptId + ", signed by the platform's key " + receiptJws.header.kid + ".");
    var log = "/api/v1/sites/" + encodeURIComponent(site) + "/log";
    var latest = await getJSON(log);
    if (!latest) throw new Pending("site " + site + " has no tree head yet: check again in a few minutes");
    var head = (await signed(latest.tree_head, TREE_HEAD, keys)).payload;
    if (head.site !== site) throw new Failed("the log's tree head is another site's");
    var proof = await getJSON(log + "/inclusion?" + new URLSearchParams({ event_id: entry.eventId, event_hash: entry.eventHash, tree_size: head.tree_size }));
    if (!proof) {
      if ((stamp + 1) * 1000 <= head.complete_until) throw new Failed("event " + entry.eventId + " is missing from the log, which promises every event up to its complete_until");
      throw new Pending("event " + entry.eventId + " has not joined the log yet: check again in a few minutes");
    }
    await verifyInclusion(proof.leaf_index, head.tree_size, await leafHash(entry.eventId, entry.eventHash),
      proof.audit_path.map(fromHex), fromHex(head.root_hash));
    report("ok", "In the log: event " + entry.eventId + " is leaf " + proof.leaf_index + " of the tree head of " + head.tree_size + " leaves.");
    if (savedText) {
      var saved = (await signed(savedText, TREE_HEAD, keys)).payload;
      if (saved.site !== site) throw new Failed("the saved tree head is another site's");
      if (saved.tree_size > head.tree_size) throw new Failed("the log shrank: your saved tree head has " + saved.tree_size + " leaves, the latest " + head.tree_size);
      var path = [];
      if (saved.tree_size < head.tree_size) {
        var consistency = await getJSON(log + "/consistency?" + new URLSearchParams({ first: saved.tree_size, second: head.tree_size }));
        if (!consistency) throw new Failed("the platform gives no consistency proof from your saved tree head");
        path = consistency.consistency_path.map(fromHex);
      }
      await verifyConsistency(saved.tree_size, head.tree_size, fromHex(saved.root_hash), fromHex(head.root_hash), path);
      report("ok", "Consistent: the log still holds, unchanged, the " + saved.tree_size + " leaves of the tree head you saved.");
      if ((stamp + 1) * 1000 <= saved.complete_until && proof.leaf_index >= saved.tree_size) {
        throw new Failed("the event claims a time your saved tree head covers, but was logged after it: backdated");
      }
    }
    return { site: site, head: latest.tree_head };
  }

  function remembered() { try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; } }

  var form = document.getElementById("check"), results = document.getElementById("results"), verdict = document.getElementById("verdict");
  var savedBox = document.getElementById("saved-head"), receiptBox = document.getElementById("receipt");

  document.getElementById("receipt-file").addEventListener("change", async function (event) {
    var file = event.target.files[0];
    if (file) receiptBox.value = await file.text();
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    results.textContent = "";
    verdict.textContent = "Checking…";
    verdict.dataset.status = "checking";
    document.getElementById("keep").hidden = true;
    function report(status, text) {
      var li = document.createElement("li");
      li.className = status;
      li.textContent = text;
      results.appendChild(li);
    }
    try {
      var receipt;
      try { receipt = JSON.parse(receiptBox.value); } catch (e) { throw new Failed("the receipt is not JSON"); }
      var site = receipt && receipt.receipt && receipt.receipt.piiControllers ? receipt.receipt.piiControllers[0].site : "";
      var saved = savedBox.value.trim() || remembered()[site] || "";
      if (saved.charAt(0) === "{") saved = JSON.parse(saved).tree_head;
      var done = await check(receipt, saved, report);
      var store = remembered();
      store[done.site] = done.head;
      localStorage.setItem(STORE, JSON.stringify(store));
      document.getElementById("latest-head").value = done.head;
      document.getElementById("download-head").href = URL.createObjectURL(new Blob([done.head + "\n"], { type: "text/plain" }));
      document.getElementById("keep").hidden = false;
      verdict.textContent = "VALID";
      verdict.dataset.status = "valid";
    } catch (e) {
      if (e instanceof Pending) {
        report("pending", e.message);
        verdict.textContent = "NOT YET: " + e.message;
        verdict.dataset.status = "pending";
        return;
      }
      var message = e instanceof Failed ? e.message : "the receipt is malformed (" + e + ")";
      report("fail", message);
      verdict.textContent = "INVALID: " + message;
      verdict.dataset.status = "invalid";
    }
  });
})();
