/*
 * The consent banner runtime, bundled by esbuild into dist/cmp.min.js.
 *
 * Embedded as <script src="https://cmp.example.com/c/<site>.js"></script>
 * (or the versioned file with data-site="<site>"), it:
 *   1. tells Google Consent Mode "denied" before any tag can run (gating.js);
 *   2. takes the site's config and stylesheet from the site script (window.cmpBoot,
 *      or fetches both in parallel when loaded as the versioned runtime: server.js)
 *      and decides each purpose with the rule (rule.js) from the first-party cookie
 *      (cookie.js), before the page's next script runs;
 *   3. shows the banner when a choice is needed (ui.js), gates tags until their
 *      purpose is granted (gating.js), and POSTs every choice to the server,
 *      keeping it in the cookie until the server confirms (nothing is lost offline);
 *   4. offers the page API, window.cmp (api.js);
 *   5. deletes what declined purposes left behind: their cookies and storage keys,
 *      as the scanner's inventory names them (cleanup.js, in later.js);
 *   6. loads what it does later (the preferences dialog, the iframe placeholders, the clean-up) the
 *      first time one is needed (later.js, a file of its own pinned by its SRI hash: lazy.js);
 *   7. where US sections apply (the config's us_privacy), loads the IAB GPP page API,
 *      window.__gpp (gpp.js, a file of its own pinned by its SRI hash).
 *
 * This module holds the visitor's state and the flow of a choice; the others
 * know nothing of each other.
 */
import { version as VERSION } from "../package.json";
import { emit, emitSaved, publish, ready } from "./api.js";
import { forget, hasFlag, read, setFlag, write } from "./cookie.js";
import { consentDefault, ran, release, update, watch } from "./gating.js";
import { newVisitor } from "./identity.js";
import { consentMode, decide, optOutPreference, staleReason } from "./rule.js";
import { loadLaterWith, loaded, withLater } from "./lazy.js";
import { fetchConfig, fetchDecision, fetchText, fetchTrackers, postChoice, script } from "./server.js";
import { signals } from "./signals.js";
import { ask, build, canAdopt, hide, offerReceipt, shared, useStyles } from "./ui.js";

const d = document;
const me = d.currentScript;
const src = new URL(me.src);
const origin = src.origin;
const boot = window.cmpBoot || {};
const site = boot.site || me.getAttribute("data-site") || (src.pathname.match(/\/c\/([\w-]+)\.js$/) || [])[1];
const COOKIE = "cmp_" + site;

let cfg = null;                          // the site's config, once fetched
let state = read(COOKIE);                // the stored choice, or null
let fresh = state ? null : newVisitor();    // who the visitor becomes with a first choice
let server = {};                         // signals of the server's last answer (sticky GPC, the platform's NAI cookie)
let decisions = {};                      // purpose -> granted
let pendingConflict = null;              // choices waiting for the visitor to confirm a conflict
let trackers = null;                     // the clean-up rules (a promise), fetched once the banner is up

const CSS = `${origin}/c/cmp.css?v=${VERSION}`;

// The preferences dialog, the iframe placeholders and the clean-up: a file of their own, loaded on first need.
loadLaterWith(() => script(`${origin}/c/v/${VERSION}/later.min.js`, LATER_INTEGRITY).then(make => make(shared())));

consentDefault(boot.ga);

const currentSignals = () => signals(state, server);

// The rule's inputs, from the config, the cookie and the browser.
function context() {
  return {
    purposes: cfg.purposes, regime: cfg.regime, now: Date.now() / 1000, lifetime: cfg.consent_lifetime_days * 86400,
    // Flag g: the visitor confirmed, in the conflict dialog, grants over an opt-out preference signal.
    choice: state && { choices: state.c, made_at: state.ts, policy_version: state.p, signals: { gpc: hasFlag(state, "g") },
                       gpc_conflict_confirmed: hasFlag(state, "g") },
    signals: currentSignals(), versions_in_force: cfg.policy.versions_in_force, honor_dnt: cfg.honor_dnt
  };
}

// Applies an answer of the rule or of the server; true when it revokes a purpose that already ran.
function apply(outcome, source) {
  const next = {};
  for (const key in outcome.decisions) next[key] = outcome.decisions[key].granted;
  let revoked = false;
  for (const key in decisions) if (decisions[key] && !next[key] && ran[key]) revoked = true;
  decisions = next;
  const mode = consentMode(outcome);
  update(decisions, mode, (cfg.ga_measurement_ids || []).concat(boot.ga || []));
  cleanUp();
  emit({ decisions: Object.assign({}, decisions), consent_mode: mode, source });
  release();
  return revoked;
}

// Deletes what the purposes now declined left behind, where the inventory names something of theirs.
function cleanUp() {
  if (trackers) trackers.then(rules => {
    const owners = rules ? Object.keys(rules.cookies).concat(Object.keys(rules.storage)) : [];
    if (owners.some(purpose => !decisions[purpose])) withLater(later => later.clean(rules, decisions));
  });
}

function currentChoices() {
  const choices = {};
  cfg.purposes.forEach(p => { if (!p.essential) choices[p.key] = !!decisions[p.key]; });
  return choices;
}

function choose(choices, conflictConfirmed) {
  const sold = cfg.purposes.filter(p => p.sale_or_sharing && choices[p.key]).map(p => p.key);
  const conflict = sold.length > 0 && !!optOutPreference(currentSignals(), cfg.honor_dnt);
  if (conflict && !conflictConfirmed) {
    // An opt-out preference signal is on: sale and sharing stay off unless the visitor confirms (CCPA §7025).
    pendingConflict = Object.assign({}, choices);
    sold.forEach(key => { choices[key] = false; });
    const nai = hasFlag(state, "n");
    withLater(l => l.askAboutConflict(choices, nai));  // the choices just made, sale and sharing held back
  }
  remember(choices, cfg.policy.version);
  // Sent with this choice (and its retries) only: a later choice without the dialog asks again.
  setFlag(state, "g", conflict && !!conflictConfirmed);
  setFlag(state, "q", true);
  writeCookie();
  hide();
  offerReceipt();
  send(apply(decide(context()), "banner"));
}

function writeCookie() {
  write(COOKIE, state, cfg);
}

// Choices made elsewhere (the person's other browsers, a sister site), as later.js read them from the
// server's answer: kept as this browser's, as if made here now.
function keep(choices, answer) {
  remember(choices, answer.policy_version);
  confirmed(true, answer);  // the server holds it: it answered with it
  answer.needs_choice ? ask() : hide();
}

// The choice as this browser holds it, made now under a policy version.
function remember(choices, policy) {
  state = state || fresh;
  state.c = choices;
  state.p = policy || "";
  state.ts = Math.floor(Date.now() / 1000);
}

function send(reloadAfter) {
  post().then(r => notOurs(r) ? renew() : r).then(r => confirmed(r.ok, r.answer))
    .catch(() => { /* kept in the cookie (flag q); sent again on the next page view */ })
    .then(() => { if (reloadAfter) location.reload(); });
}

function post() {
  const s = currentSignals();
  return postChoice(origin + cfg.endpoints.consents, Object.assign({
    visitor_id: state.v, token: state.t, choices: state.c, policy_version: state.p || null,
    banner_version: VERSION, language: cfg.language,
    signals: { gpc: s.gpc, ga_optout: s.ga_optout, nai_optout: hasFlag(state, "n"), dnt: s.dnt }
  }, hasFlag(state, "g") ? { gpc_conflict_confirmed: true } : {}));  // only from the conflict dialog
}

// The server does not take this id from us (an id of an older banner that no token certifies,
// or a token that is not the id's): the choice is never dropped, it starts a new id of its own.
const notOurs = r => !r.ok && r.answer && (r.answer.error === "bad_token" || r.answer.error === "token_required");

function renew() {
  const next = newVisitor();
  state.v = next.v;
  state.t = next.t;
  writeCookie();
  return post();
}

function confirmed(ok, answer) {
  setFlag(state, "q", false);  // a 4xx will not get better by retrying
  if (ok) {
    server = answer.signals || {};
    setFlag(state, "s", !!server.gpc);
    if (server.nai_optout) setFlag(state, "n", true);
    apply(answer, "server");
    emitSaved({ decisions: Object.assign({}, decisions), visitor_id: state.v, gpp: answer.gpp });  // the server has it now
    checked();  // just confirmed: the next check with the server is due tomorrow
  }
  writeCookie();
}

function act(action) {
  const all = {}, none = {};
  cfg.purposes.forEach(p => { if (!p.essential) { all[p.key] = true; none[p.key] = false; } });
  if (action === "accept") choose(all);
  else if (action === "reject") choose(none);
  else if (action === "customize") openPreferences();
  else if (action === "close") loaded().closeDialog();
  else if (action === "acknowledge") choose(currentChoices());
  else if (action === "do-not-sell") {
    const choices = currentChoices();
    cfg.purposes.forEach(p => { if (p.sale_or_sharing) choices[p.key] = false; });
    choose(choices);
  } else if (action === "save") {
    const boxes = loaded().picked();
    state = state || fresh;
    setFlag(state, "n", boxes.nai);
    choose(boxes.choices);
  } else if (action === "confirm-gpc") {
    const choices = pendingConflict || Object.assign(currentChoices(), { advertising: true });
    pendingConflict = null;
    loaded().settleConflict();
    choose(choices, true);
  }
}

function openPreferences() {
  const nai = hasFlag(state, "n");
  if (cfg) withLater(l => l.open(decisions, nai));
}

// An iframe waiting for its purpose: its placeholder's button allows that purpose.
function waitingFrame(frame, purpose) {
  withLater(l => l.placeholder(cfg, frame, purpose, () => {
    const choices = currentChoices();
    choices[purpose] = true;
    choose(choices);
  }));
}

function start(config) {
  if (refused(config)) return ready();  // as without a config: only what the cookie allowed, nothing shown
  cfg = config;
  const ctx = context();
  const outcome = decide(ctx);
  apply(outcome, "banner");
  if (cfg.us_privacy) loadGpp();
  // A choice carried from a sister site (later.js redeems it): taken before the banner would ask.
  const handoff = /cmp-handoff=/.test(location.hash);
  const whenBody = () => {
    const pending = state && hasFlag(state, "q");
    const view = { optOutSignal: !!optOutPreference(currentSignals(), cfg.honor_dnt), chosen: !!state };
    const show = outcome.needs_choice && !(pending && !staleReason(ctx));
    build(cfg, view, { act, origin, site, visitor: () => state || fresh, keep }, show && !handoff);
    if (handoff) withLater(l => l.redeem(show));
    // What declined purposes left behind is cleaned once the banner is up: no request before it.
    trackers = fetchTrackers(origin, site);
    cleanUp();
    if (pending) send(false);  // a choice the server has not confirmed yet
    else if (state) recheck();
    ready();
  };
  onBody(whenBody);
}

// The GPP page API, only where US sections apply (no request elsewhere), pinned by the hash the
// build wrote here; it asks the lookup API for the visitor's string.
const loadGpp = () => script(`${origin}/c/v/${VERSION}/gpp.min.js`, GPP_INTEGRITY, { lookup: origin + cfg.endpoints.decisions });

// Once a day at most, the stored choice is checked with the server: if the server no longer holds
// it (the visitor's data was erased), the banner forgets it and asks again. Other page views cost no request.
const CHECKED = "cmp_" + site + "_checked";
const today = () => Math.floor(Date.now() / 86400000);
function checked() {
  try { localStorage.setItem(CHECKED, today()); } catch (e) { /* no storage */ }
}
function recheck() {
  try {
    if (+localStorage.getItem(CHECKED) === today()) return;
  } catch (e) { return; }  // no storage: no way to keep it to once a day
  checked();
  const asked = state;
  fetchDecision(origin + cfg.endpoints.decisions, state.v).then(answer => {
    if (!answer.needs_choice || state !== asked || staleReason(context())) return;
    forget(COOKIE, cfg);
    state = null;
    fresh = newVisitor();
    apply(decide(context()), "server");
    offerReceipt(false);
    ask();
  }).catch(() => { /* offline, or refused: check again tomorrow */ });
}

// A page on an origin the site does not list: say so, once, where its developer looks.
function refused(config) {
  const here = location.origin;
  if (here === origin || !config.origins || config.origins.indexOf(here) >= 0) return false;
  withLater(l => l.refused(here, origin, site));  // a rare mistake: its words are in later.js
  return true;
}

// Runs fn as soon as the page has a body (the banner goes first in it), not at the end of parsing.
function onBody(fn) {
  if (d.body) return fn();
  const seen = new MutationObserver(() => { if (d.body) { seen.disconnect(); fn(); } });
  seen.observe(d.documentElement, { childList: true });
}

// The site language for the page's lang, else the browser's languages in order; else the
// site's default. The server picks the same way from Accept-Language (banner/config.py).
function pickLanguage(languages, wanted) {
  const offered = {};
  languages.forEach(l => { offered[l.toLowerCase()] = l; });
  for (const code of wanted) {
    const c = (code || "").toLowerCase(), found = offered[c] || offered[c.split("-")[0]];
    if (found) return found;
  }
  return languages[0];
}

publish(VERSION, {
  granted: purpose => cfg ? !!decisions[purpose] : !!(state && state.c[purpose] === true),  // before the config: the cookie
  decisions: () => Object.assign({}, decisions),
  open: openPreferences,
  get visitorId() { return (state || fresh).v; },
  // The signed-in person's assertion, signed by the site's back end: this browser joins their shared choices.
  identify: assertion => withLater(l => l.identify(assertion))
});
watch(waitingFrame);

// "Cookie preferences" links anywhere on the page, and links to sister sites that carry the choice.
d.addEventListener("click", e => {
  const link = e.target.closest && e.target.closest("[data-cmp-open],[data-cmp-handoff]");
  if (link) { e.preventDefault(); link.dataset.cmpHandoff ? withLater(l => l.handOff(link)) : openPreferences(); }
});

const wanted = d.documentElement.lang ? [d.documentElement.lang] : (navigator.languages || [navigator.language || ""]);
const embedded = boot.config;
if (embedded && pickLanguage(embedded.languages, wanted) === embedded.language) {
  // The site script carried it all: decide now, before the page's next script runs.
  useStyles(boot.css, CSS);
  start(embedded);
} else {
  // The versioned runtime, or a page in another language than the browser's: config and
  // stylesheet in parallel (the stylesheet's text only where it can be adopted).
  const lang = embedded ? pickLanguage(embedded.languages, wanted) : wanted[0] || "";
  const css = boot.css != null ? boot.css : canAdopt ? fetchText(CSS).catch(() => null) : null;
  Promise.all([fetchConfig(origin, site, lang), css])
    .then(([config, text]) => { useStyles(text, CSS); start(config); })
    .catch(() => ready());  // no config: run only what the cookie allowed, show nothing
}
