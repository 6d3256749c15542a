// The banner's visitor ids against the server's derivation (consent/identity.py), for the
// tokens in tests/unit/identity_vectors.json (tests/unit/test_identity.py checks the same file
// against Python and runs this one).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { certifiedId, newVisitor, selfCertifying } from "../src/identity.js";

const vectors = JSON.parse(readFileSync(new URL("../../tests/unit/identity_vectors.json", import.meta.url)));

for (const [token, id] of vectors) {
  test(`the id of ${token.slice(0, 12)}…`, () => assert.equal(certifiedId(token), id));
}

test("a new visitor's id is derived from its token, and an old random id is not", () => {
  const visitor = newVisitor();
  assert.ok(selfCertifying(visitor));
  assert.ok(!selfCertifying({ v: "0b6f3c9e-6a53-4f47-9d2a-3f1f2b7c8d10", t: visitor.t }));
  assert.ok(!selfCertifying({ v: visitor.v, t: newVisitor().t }));
});
