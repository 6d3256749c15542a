"""Opening a site's pages in headless Chromium and recording what they store and fetch.

Only a worker running a scan imports this module (``scanner/tasks.py``):
Playwright, defusedxml and publicsuffixlist are the worker's optional extra
(``requirements-scanner.txt``), which the web process does not need.

Each page is opened three times, each in a fresh browser profile: before any
choice, then clicking the banner's "Reject all", then its "Accept all". After
a click the page is loaded once more, so the pass also sees what the site
does on the next page view. A pass records:

- cookies: name, domain, lifetime, Secure, SameSite, HttpOnly from the
  browser's jar, and what set each: the response whose ``Set-Cookie`` carried
  it, or the script that wrote ``document.cookie`` (an init script wraps the
  setter and reads the caller from the stack; code inline in the page is
  reported as ``inline script in <page>``);
- localStorage and sessionStorage keys of every frame, with the script that
  called ``setItem`` where one did;
- every request to another site (by registrable domain): host, resource type
  and initiator (DevTools protocol ``Network.requestWillBeSent``; the banner's
  own frames are passed over, since its setters are on the stack of every
  script and image a page's script makes).

In the "Reject all" and "Accept all" passes only what is set or requested
after the click counts. Bounds: every connection goes through
:class:`~scanner.guard.Guard` (public addresses only, a byte cap per
connection); loading and settling have timeouts; a pass keeps at most
``max_items`` records; Chromium is restarted every ``restart_every`` pages
and its JavaScript heap is capped, so its memory stays bounded on long scans.
"""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from publicsuffixlist import PublicSuffixList

from . import sitemap
from .guard import Guard
from .kinds import ACCEPT, BEFORE, COOKIE, LOCAL_STORAGE, REJECT, REQUEST, SESSION_STORAGE
from .observations import Item, PagePass

EXECUTABLE = "/usr/bin/chromium"
BUTTON = "#cmp-root >> section.banner >> button[data-action='{action}']"
ACTIONS = {REJECT: "reject", ACCEPT: "accept"}
BINDING = "__cmpScanReport"  # named as in RECORDER
# Runs in every frame before the page's own scripts: reports each cookie
# write and storage write with the first script URL on the caller's stack.
# The binding is taken and removed from the page, so page scripts cannot call it.
RECORDER = """(() => {
  const report = window.__cmpScanReport;
  if (!report) return;
  try { delete window.__cmpScanReport; } catch (e) {}
  const caller = () => {
    for (const line of String(new Error().stack).split("\\n").slice(2)) {
      const m = line.match(/(https?:\\/\\/[^\\s()]+?):\\d+:\\d+/);
      if (m) return m[1];
    }
    return "";
  };
  const send = (kind, name) => { try { report(kind, String(name).slice(0, 255), caller(), location.href).catch(() => {}); } catch (e) {} };
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  Object.defineProperty(Document.prototype, "cookie", {
    configurable: true, enumerable: true, get: cookie.get,
    set(value) { send("cookie", String(value).split(";")[0].split("=")[0].trim()); return cookie.set.call(this, value); }
  });
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) {
    let kind = "session_storage";
    try { if (this === window.localStorage) kind = "local_storage"; } catch (e) {}
    send(kind, key);
    return setItem.apply(this, arguments);
  };
})();"""
# Whether the platform's banner runs on the page, once it has its config.
BANNER_READY = "() => window.cmp && window.cmp.ready ? Promise.race([window.cmp.ready.then(() => true), " \
    "new Promise(resolve => setTimeout(() => resolve(true), 5000))]) : false"
STORAGE_KEYS = """() => {
  const keys = (store) => { try { return Object.keys(store).slice(0, 500); } catch (e) { return []; } };
  let local = [], session = [];
  try { local = keys(window.localStorage); } catch (e) {}
  try { session = keys(window.sessionStorage); } catch (e) {}
  return {local, session, host: location.hostname};
}"""


@dataclass(frozen=True)
class Limits:
    page_timeout_ms: int = 15000  # a page not loaded by then is noted and its pass skipped
    settle_ms: int = 3000  # the most a pass waits for the network to go quiet
    # Chromium can put a response's cookie in the jar before it reports that response's headers:
    # how long to wait for the report that says what set each new cookie.
    attribution_ms: int = 2000
    banner_timeout_ms: int = 5000  # for the banner's button before a Reject or Accept pass
    max_items: int = 2000  # records kept per pass (a hostile page cannot grow them without end)
    max_bytes: int = 16 * 1024 * 1024  # the most the guard passes back on one connection
    restart_every: int = 20  # pages per Chromium, so no leak outlives twenty pages
    heap_mb: int = 256  # each renderer's JavaScript heap


def args(guard_port: int, heap_mb: int) -> list[str]:
    return [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
        # Every connection through the guard, loopback included; no UDP around it.
        f"--proxy-server=socks5://127.0.0.1:{guard_port}", "--proxy-bypass-list=<-loopback>",
        "--disable-quic", "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        # Frames of other sites in the page's own process, so one DevTools session sees their requests.
        "--disable-site-isolation-trials", "--disable-features=IsolateOrigins,site-per-process",
        f"--js-flags=--max-old-space-size={heap_mb}", "--renderer-process-limit=2",
    ]


_suffixes = PublicSuffixList()


def registrable(host: str) -> str:
    """The site a host belongs to (``www.shop.example.co.uk`` → ``example.co.uk``); an address stays itself."""
    host = (host or "").lower().rstrip(".")
    return _suffixes.privatesuffix(host) or host


class Recorder:
    """What one pass sees, in the order it arrives; ``mark()`` starts counting from a click."""

    def __init__(self, page_url: str, max_items: int):
        self.page_url = page_url
        self.site = registrable(urlsplit(page_url).hostname or "")
        self.max_items = max_items
        self.events: list[tuple[str, ...]] = []
        self.urls: dict[str, str] = {}   # DevTools request id -> URL
        # Response headers that came before their request's URL (DevTools does not order its
        # ExtraInfo events with the others): request id -> indexes of their "set" events.
        self.unnamed: dict[str, list[int]] = {}
        self.truncated = False
        self.boundary = 0

    def add(self, *event):
        if len(self.events) >= self.max_items:
            self.truncated = True
        else:
            self.events.append(event)

    def mark(self):
        self.boundary = len(self.events)

    def after(self):
        return self.events[self.boundary:]

    # DevTools protocol events
    def on_request(self, params):
        url = params["request"]["url"]
        self.urls[params["requestId"]] = url
        for index in self.unnamed.pop(params["requestId"], ()):
            self.events[index] = self.events[index][:3] + (url[:500], urlsplit(url).hostname or "")
        host = urlsplit(url).hostname
        if not host or urlsplit(url).scheme not in ("http", "https") or registrable(host) == self.site:
            return
        self.add("request", host.lower(), params.get("type", ""), initiator(params))

    def on_response_headers(self, params):
        url = self.urls.get(params["requestId"])
        headers = {k.lower(): v for k, v in params.get("headers", {}).items()}
        for line in headers.get("set-cookie", "").split("\n"):
            name = line.split(";", 1)[0].split("=", 1)[0].strip()
            if name:
                if url is None and len(self.events) < self.max_items:  # named when its request comes
                    self.unnamed.setdefault(params["requestId"], []).append(len(self.events))
                self.add("set", COOKIE, name[:255], (url or "")[:500], urlsplit(url or "").hostname or "")

    # the init script's reports
    def on_report(self, source, kind, name, caller, href):
        if kind in (COOKIE, LOCAL_STORAGE, SESSION_STORAGE):
            by = f"inline script in {href}" if not caller or caller == href else caller
            self.add("set", kind, str(name)[:255], str(by)[:500], urlsplit(str(href)).hostname or "")


# The banner's own script, by the embed contract's paths: it watches the src of every script and image a page's
# script makes, so its setter is on top of the stack of their requests, above the script that made them.
BANNER_SCRIPT = re.compile(r"/c/(?:v/[^/]+/cmp\.min\.js|[\w-]+\.js)$")


def initiator(params) -> str:
    """What made a request: the script on top of the initiating stack (the banner's frames aside), the parsing
    document, or the page."""
    source = params.get("initiator") or {}
    stack = source.get("stack")
    while stack:
        for frame in stack.get("callFrames", []):
            url = frame.get("url")
            if url and not BANNER_SCRIPT.search(urlsplit(url).path):
                return url[:500]
        stack = stack.get("parent")
    return (source.get("url") or params.get("documentURL") or "")[:500]


class Chromium:
    """A headless Chromium behind the guard; ``visit(url)`` returns the page's three passes.

    Playwright's synchronous API refuses a thread that already drives an
    event loop (or another Playwright), so the browser lives in a thread of
    its own and every call is handed to it: the caller may be anything.
    """

    def __init__(self, limits: Limits = Limits(), private_networks=(), hosts=None):
        self.limits = limits
        self.guard = Guard(private_networks, hosts, limits.max_bytes)
        self.browser = None
        self.opened = 0
        self.banner_seen = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scanner-chromium")

    def _call(self, function, *args):
        return self._thread.submit(function, *args).result()

    def __enter__(self):
        self.guard.start()
        self.playwright = self._call(lambda: sync_playwright().start())
        return self

    def __exit__(self, *exc):
        try:
            self._call(self._close_browser)
            self._call(self.playwright.stop)
        finally:
            self._thread.shutdown()
            self.guard.stop()

    def _close_browser(self):
        if self.browser is not None:
            try:
                self.browser.close()
            except PlaywrightError:
                pass  # already gone (crashed or killed)
            self.browser = None

    def _browser(self):
        if self.browser is not None and (self.opened >= self.limits.restart_every or not self.browser.is_connected()):
            self._close_browser()
        if self.browser is None:
            self.browser = self.playwright.chromium.launch(
                executable_path=EXECUTABLE, args=args(self.guard.port, self.limits.heap_mb))
            self.opened = 0
        return self.browser

    def plan(self, urls: list[str], use_sitemap: bool, limit: int) -> list[str]:
        """The pages to open: the listed ones first, then the sitemaps' (same origins), at most ``limit``."""
        pages = list(dict.fromkeys(urls))
        if use_sitemap and urls and len(pages) < limit:
            pages += [p for p in sitemap.pages_from(sitemap.fetcher(self.guard), urls, limit) if p not in pages]
        return pages[:limit]

    def visit(self, url: str) -> list[PagePass]:
        return self._call(self._visit, url)

    def _visit(self, url):
        self._browser()
        self.opened += 1
        first = self._pass(url, BEFORE)
        if not self.banner_seen:
            first.notes.append(f"{url}: no consent banner (window.cmp) on the page; no Reject all or Accept all pass")
            return [first]
        return [first, self._pass(url, REJECT), self._pass(url, ACCEPT)]

    def _pass(self, url: str, phase: str) -> PagePass:
        result = PagePass(url, phase)
        self.banner_seen = False
        refused_before = len(self.guard.refused)
        recorder = Recorder(url, self.limits.max_items)
        context = self.browser.new_context(service_workers="block")
        try:
            context.expose_binding(BINDING, recorder.on_report)
            context.add_init_script(RECORDER)
            page = context.new_page()
            devtools = context.new_cdp_session(page)
            devtools.on("Network.requestWillBeSent", recorder.on_request)
            devtools.on("Network.responseReceivedExtraInfo", recorder.on_response_headers)
            devtools.send("Network.enable")
            page.goto(url, wait_until="load", timeout=self.limits.page_timeout_ms)
            self._settle(page)
            self.banner_seen = page.evaluate(BANNER_READY)
            jar_before, storage_before = set(), set()
            if phase != BEFORE:
                button = page.locator(BUTTON.format(action=ACTIONS[phase]))
                try:
                    button.wait_for(state="visible", timeout=self.limits.banner_timeout_ms)
                except PlaywrightError:
                    result.notes.append(f"{url}: no consent banner with a '{ACTIONS[phase]}' button; pass skipped")
                    return result
                jar_before = {_cookie_key(c) for c in context.cookies()}
                storage_before = {(kind, name, host) for kind, name, host in self._storage(page)}
                recorder.mark()
                button.click(timeout=self.limits.banner_timeout_ms)
                self._settle(page)
                page.reload(wait_until="load", timeout=self.limits.page_timeout_ms)
                self._settle(page)
            self._await_attribution(recorder, context, page, jar_before)
            result.items = self._items(recorder, context, page, jar_before, storage_before)
        except PlaywrightError as error:
            result.notes.append(f"{url}: {phase} pass failed: {str(error).splitlines()[0][:300]}")
            if not self.browser.is_connected():
                raise  # Chromium itself is gone: the scan cannot go on
        finally:
            try:
                context.close()
            except PlaywrightError:
                pass
        if recorder.truncated:
            result.notes.append(f"{url}: {phase} pass kept only the first {self.limits.max_items} records")
        for host, address in self.guard.refused[refused_before:]:
            result.notes.append(f"{url}: refused to connect to {host} ({address}): not a public address")
        return result

    def _settle(self, page):
        try:
            page.wait_for_load_state("networkidle", timeout=self.limits.settle_ms)
        except PlaywrightError:
            pass  # a page that never stops fetching is recorded as far as it got

    def _await_attribution(self, recorder, context, page, jar_before):
        """Wait (within ``attribution_ms``) until every cookie new in the jar has its report of what set it."""
        deadline = time.monotonic() + self.limits.attribution_ms / 1000
        while True:
            reported = {event[2] for event in recorder.after() if event[0] == "set" and event[1] == COOKIE and event[3]}
            unreported = [cookie for cookie in context.cookies()
                          if _cookie_key(cookie) not in jar_before and cookie["name"][:255] not in reported]
            if not unreported or time.monotonic() >= deadline:
                return  # a cookie no report names (a frame of another process set it) keeps an empty set_by
            page.wait_for_timeout(50)  # let the DevTools and binding events already on their way arrive

    def _storage(self, page):
        for frame in page.frames:
            try:
                found = frame.evaluate(STORAGE_KEYS)
            except PlaywrightError:
                continue
            for kind, names in ((LOCAL_STORAGE, found["local"]), (SESSION_STORAGE, found["session"])):
                for name in names:
                    yield kind, str(name)[:255], found["host"]

    def _items(self, recorder, context, page, jar_before, storage_before) -> list[Item]:
        site, now = recorder.site, time.time()
        events = recorder.after()
        set_by: dict[tuple[str, str], str] = {}
        set_where: dict[tuple[str, str], str] = {}
        for event in events:
            if event[0] == "set":
                set_by[event[1], event[2]] = event[3]
                set_where.setdefault((event[1], event[2]), event[4])
        items: dict[tuple, Item] = {}
        for cookie in context.cookies():
            name, domain = cookie["name"][:255], cookie["domain"][:255]
            if _cookie_key(cookie) in jar_before and (COOKIE, name) not in set_by:
                continue  # there before the click and not set again after it
            expires = cookie.get("expires", -1)
            item = Item(COOKIE, name, domain, registrable(domain.lstrip(".")) == site, set_by.get((COOKIE, name), ""),
                        None if expires is None or expires < 0 else max(0, int(expires - now)), cookie.get("secure"),
                        cookie.get("sameSite", ""), cookie.get("httpOnly"))
            items[item.key] = item
        for kind, name, host in self._storage(page):
            if (kind, name, host) in storage_before and (kind, name) not in set_by:
                continue
            item = Item(kind, name, host, registrable(host) == site, set_by.get((kind, name), ""))
            items.setdefault(item.key, item)
        # Set, then deleted before the pass ended (by the site, or by the banner's clean-up):
        # it was stored all the same.
        present = {(kind, name) for kind, name, _ in items}
        for (kind, name), host in set_where.items():
            if (kind, name) not in present and host:
                item = Item(kind, name, host, registrable(host) == site, set_by[kind, name])
                items[item.key] = item
        for event in events:
            if event[0] == "request":
                _, host, resource_type, source = event
                item = Item(REQUEST, host, host, False, source, resource_type=resource_type.lower(), initiator=source)
                items.setdefault(item.key, item)
        return list(items.values())


def _cookie_key(cookie) -> tuple:
    return cookie["name"], cookie["domain"], cookie["path"], cookie["value"]
