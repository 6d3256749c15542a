"""Positive signals from the banner in the browser, to wait for instead of sleeping.

``MARK_STYLED`` is an init script (``page.add_init_script``): it wraps every
``load`` listener added to a ``<link>``, and marks the link
(``data-test-load-handled``) once the listener has run. The banner shows
itself, or stays hidden, in the ``load`` listener of its stylesheet
(banner_static/src/ui.js), so once ``STYLED`` is true the banner's
visibility is settled: a check that the banner does *not* show can be made
then, with no timeout that a slow machine would outrun.
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
  const link = root && root.shadowRoot && root.shadowRoot.querySelector('link');
  return !!(link && link.dataset.testLoadHandled === '1');
})()"""
