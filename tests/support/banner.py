"""Positive signals from the banner in the browser, to wait for instead of sleeping.

The banner shows itself, or stays hidden, once it is styled
(banner_static/src/ui.js): at once, in the same task that builds it, when it
adopts the stylesheet the site script carried; else in the ``load`` listener
of its ``<link>``. ``MARK_STYLED`` is an init script (``page.add_init_script``)
for the second case: it wraps every ``load`` listener added to a ``<link>``,
and marks the link (``data-test-load-handled``) once the listener has run.
Once ``STYLED`` is true the banner's visibility is settled: a check that the
banner does *not* show can be made then, with no timeout that a slow machine
would outrun.
"""

MARK_STYLED = """(() => {
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (type === "load" && this instanceof HTMLLinkElement && typeof listener === "function") {
      const link = this;
      const marked = function (event) {
        try { return listener.call(this, event); } finally { link.dataset.testLoadHandled = "1"; }
      };
      return add.call(this, type, marked, options);
    }
    return add.call(this, type, listener, options);
  };
})();"""

STYLED = """(() => {
  const root = document.querySelector('#cmp-root');
  if (!root || !root.shadowRoot) return false;
  if (root.shadowRoot.adoptedStyleSheets.length > 0) return true;  // styled, and shown or not, when built
  const link = root.shadowRoot.querySelector('link');
  return !!(link && link.dataset.testLoadHandled === '1');
})()"""
