// The decision rule, as consent/decisions.py states it (README, "The decision rule").
// The banner decides from its cookie on its own (offline, and before the server could
// answer), so the rule exists twice; tests/unit/rule_vectors.json holds the cases both
// must answer alike, run against this file by banner_static/test/rule.test.js and against
// the server's by tests/unit/test_rule_vectors.py. Pure: no DOM, no clock.

// Google Consent Mode v2 storage type -> the purpose that grants it (decisions.CONSENT_MODE_PURPOSES).
export const MODE = {
  security_storage: "security", functionality_storage: "authentication", analytics_storage: "analytics",
  ad_storage: "advertising", ad_user_data: "advertising", personalization_storage: "recognition"
};

// The reason an opt-out preference signal denies sale or sharing, if one is on.
export const optOutPreference = (signals, honorDnt) => signals.gpc ? "gpc" : honorDnt && signals.dnt ? "dnt" : null;

const decision = (granted, reason) => ({ granted, reason });

// ctx: {purposes: [{key, essential, sale_or_sharing}], regime, now and lifetime (seconds),
//       choice: {choices, made_at (seconds), policy_version, signals, gpc_conflict_confirmed} or null,
//       signals, versions_in_force (null: every version counts), honor_dnt}
// Answers in the shape of the server's lookup: {decisions, ad_personalization, needs_choice}.
export function decide(ctx) {
  const choice = ctx.choice, stale = staleReason(ctx);
  const choices = choice && !stale ? choice.choices : {};
  const regimeGrants = ctx.regime === "opt_out";  // anything unknown is treated as opt-in
  const absent = stale || (regimeGrants ? "default_opt_out" : "default_opt_in");
  const optOut = optOutPreference(ctx.signals, ctx.honor_dnt);
  const decisions = {};
  let needs = false;
  ctx.purposes.forEach(p => {
    const chosen = choices[p.key];
    let d = p.essential ? decision(true, "essential")
      : typeof chosen === "boolean" ? decision(chosen, "choice")
      : (needs = true, decision(regimeGrants, absent));
    // Signals only ever take a grant away.
    if (d.granted && p.key === "analytics" && ctx.signals.ga_optout) d = decision(false, "ga_optout");
    // An opt-out preference signal denies sale or sharing, unless the visitor granted it while the
    // signal was on and confirmed the conflict.
    if (d.granted && p.sale_or_sharing && optOut && !(d.reason === "choice" && choice.gpc_conflict_confirmed &&
        optOutPreference(choice.signals, ctx.honor_dnt))) d = decision(false, optOut);
    decisions[p.key] = d;
  });
  const ads = decisions.advertising;
  return {
    decisions,
    ad_personalization: !ads ? decision(false, "unavailable") : !ads.granted ? ads
      : ctx.signals.nai_optout ? decision(false, "nai_optout") : ctx.signals.lat ? decision(false, "lat") : ads,
    needs_choice: needs
  };
}

// Why the stored choice no longer counts (rule step 2), if it does not.
export function staleReason(ctx) {
  const choice = ctx.choice;
  return !choice ? null
    : ctx.versions_in_force && ctx.versions_in_force.indexOf(choice.policy_version) < 0 ? "policy_changed"
    : choice.made_at + ctx.lifetime <= ctx.now ? "expired" : null;
}

// Consent Mode v2 from an answer of the rule or of the server; a purpose the site lacks grants nothing.
export function consentMode(outcome) {
  const mode = {};
  for (const storage in MODE) mode[storage] = state((outcome.decisions[MODE[storage]] || {}).granted);
  mode.ad_personalization = state(outcome.ad_personalization.granted);
  return mode;
}

const state = granted => granted ? "granted" : "denied";
