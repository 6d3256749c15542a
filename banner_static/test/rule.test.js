// The banner's rule against the vectors the server's rule answers too
// (tests/unit/rule_vectors.json; tests/unit/test_rule_vectors.py runs this file).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decide, consentMode } from "../src/rule.js";

const { now, defaults, vectors } = JSON.parse(readFileSync(new URL("../../tests/unit/rule_vectors.json", import.meta.url)));

const written = d => `${d.granted ? "granted" : "denied"} ${d.reason}`;

for (const vector of vectors) {
  test(vector.name, () => {
    const v = { ...defaults, ...vector };
    const choice = v.choice && {
      choices: v.choice.choices, made_at: now - v.choice.age, policy_version: v.choice.policy_version,
      signals: v.choice.signals || {}, gpc_conflict_confirmed: v.choice.gpc_conflict_confirmed === true
    };
    const outcome = decide({
      purposes: v.purposes, regime: v.regime, now, lifetime: v.lifetime_days * 86400, choice,
      signals: v.signals, versions_in_force: v.versions_in_force, honor_dnt: v.honor_dnt
    });
    const answered = { ad_personalization: written(outcome.ad_personalization), needs_choice: outcome.needs_choice,
      consent_mode: consentMode(outcome) };
    for (const key in outcome.decisions) answered[key] = written(outcome.decisions[key]);
    for (const key in v.expect) assert.deepEqual(answered[key], v.expect[key], key);
  });
}
