// The opt-out signals this browser sends, and those the server has seen for the visitor.
import { hasFlag } from "./cookie.js";

// stored: the cookie's choice (flags n and s); server: the signals of the server's last answer. No lat: limited
// ad tracking is a signal of mobile apps, never of a browser.
export function signals(stored, server) {
  let ga = false;
  try { ga = !!(window._gaUserPrefs && _gaUserPrefs.ioo && _gaUserPrefs.ioo()); } catch (e) { /* not the add-on */ }
  return {
    gpc: navigator.globalPrivacyControl === true || !!server.gpc || hasFlag(stored, "s"),
    ga_optout: ga,
    nai_optout: hasFlag(stored, "n") || !!server.nai_optout,
    dnt: navigator.doNotTrack === "1"
  };
}
