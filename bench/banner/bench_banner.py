"""Our banner against vanilla-cookieconsent 3.1.0 and Klaro 0.7.22, first visits in headless Chromium.

    .venv/bin/python bench/banner/bench_banner.py [--runs 15]

One Chromium, a fresh context (cold cache, no cookies) for every page load,
and the pages in interleaved order (each round loads every page once, the
order rotated from round to round, after one load of each that is not
counted), so a slow moment of this shared machine falls on all of them alike. The pages, each the same small shop page:

- a blank page (the baseline: its first paint);
- ours, as `make run` serves it (runserver on the embedded default, with the
  project's compression middleware), and as production does (gunicorn with
  PostgreSQL and Redis), each embedded as the README says: a preconnect and
  `<script src=".../c/demo.js">`;
- vanilla-cookieconsent and Klaro, installed from npm into bench/banner/peers
  (`npm ci`, package.json and lock beside this file) and embedded as their
  documentation says (vanilla-cookieconsent: its stylesheet in the head and a
  module script that imports it and calls `CookieConsent.run`; Klaro: its
  config script and `klaro.js`, both deferred). They are served by a static
  server that compresses like a CDN (brotli at quality 11, else gzip), from
  the same machine.

Each banner has one optional purpose (analytics) gating one tag, in its own
syntax. Per load: time from navigation start to the banner's first visible
frame (and to fully opaque), Chromium's script time until then, bytes on the
wire (every response but the page itself, headers included, until the network
is idle), requests, layout shift, and from the click on "Accept all" to the
gated tag running. Writes bench/banner/RESULTS.md through bench/results.py.
"""
import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from bench import results, stack  # noqa: E402

PEERS = HERE / "peers"
DB = "perf_banner"
MEASURED = ["bench/banner/bench_banner.py", "bench/banner/peers/package-lock.json", "banner/embed.py",
            "cmp/fastpath.py", "banner/config.py", "banner_static/dist/cmp.min.js", "banner_static/dist/cmp.min.css", "cmp/compression.py"]
PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>{head}</head>'
        '<body><main><h1>Shop</h1><p>Hello.</p></main>{body}</body></html>')
TAG = "window.tagRan = performance.now();"
# Chromium, from the page's first script on: the first frame in which the banner shows, and the first fully opaque.
WATCH = """
window.shift = 0;
new PerformanceObserver(l => l.getEntries().forEach(e => { window.shift += e.value; })).observe({type: 'layout-shift', buffered: true});
addEventListener('pointerdown', () => { window.clickAt = performance.now(); }, true);
const find = () => { SELECTOR };
const opacity = el => { let o = 1; for (; el && el.nodeType === 1; el = el.parentNode || el.host) o *= +getComputedStyle(el).opacity; return o; };
(function frame() {
  const el = find();
  if (el && el.offsetHeight > 0 && getComputedStyle(el).visibility !== 'hidden' && opacity(el) > 0) {
    if (window.visibleAt === undefined) window.visibleAt = performance.now();
    if (opacity(el) >= 1) { window.opaqueAt = performance.now(); return; }
  }
  requestAnimationFrame(frame);
})();
"""
BANNERS = {
    "ours": ("const r = document.querySelector('#cmp-root'); return r && r.shadowRoot && r.shadowRoot.querySelector('.banner');",
             "#cmp-root >> .banner button[data-action=accept]"),
    "vcc": ("return document.querySelector('#cc-main .cm');", "#cc-main .cm__btn[data-role=all]"),
    "klaro": ("return document.querySelector('.klaro .cookie-notice');", ".klaro .cookie-notice .cm-btn-success"),
}
VCC_RUN = """import './node_modules/vanilla-cookieconsent/dist/cookieconsent.umd.js';
CookieConsent.run({
  hideFromBots: false,  // or it never shows in an automated browser
  categories: {necessary: {enabled: true, readOnly: true}, analytics: {}},
  language: {default: 'en', translations: {en: {
    consentModal: {title: 'Your privacy choices', description: 'We use cookies to measure the use of this site.',
                   acceptAllBtn: 'Accept all', acceptNecessaryBtn: 'Reject all', showPreferencesBtn: 'Customize'},
    preferencesModal: {title: 'Preferences', acceptAllBtn: 'Accept all', acceptNecessaryBtn: 'Reject all',
                       savePreferencesBtn: 'Save', sections: [{title: 'Analytics', linkedCategory: 'analytics'}]}}}}
});
"""
KLARO_CONFIG = """var klaroConfig = {
  acceptAll: true, lang: 'en',
  translations: {zz: {privacyPolicyUrl: '/privacy'}, en: {purposes: {analytics: 'Analytics'}}},
  services: [{name: 'analytics', title: 'Analytics', purposes: ['analytics']}]
};
"""


def pages(site: Path, ours: dict[str, str]):
    """Writes the pages; ``ours`` maps a page name to the platform's base URL."""
    (site / "blank.html").write_text(PAGE.format(head="", body=""))
    for name, base in ours.items():
        (site / f"{name}.html").write_text(PAGE.format(
            head=f'<link rel="preconnect" href="{base}"><script src="{base}/c/demo.js"></script>',
            body=f'<script type="text/plain" data-cmp-purpose="analytics">{TAG}</script>'))
    (site / "vcc-run.js").write_text(VCC_RUN)
    (site / "vcc.html").write_text(PAGE.format(
        head='<link rel="stylesheet" href="/node_modules/vanilla-cookieconsent/dist/cookieconsent.css">',
        body=f'<script type="text/plain" data-category="analytics">{TAG}</script>'
             '<script type="module" src="/vcc-run.js"></script>'))
    (site / "klaro-config.js").write_text(KLARO_CONFIG)
    (site / "klaro.html").write_text(PAGE.format(
        head='<script defer type="application/javascript" src="/klaro-config.js"></script>'
             '<script defer data-config="klaroConfig" type="application/javascript" '
             'src="/node_modules/klaro/dist/klaro.js"></script>',
        body=f'<script type="text/plain" data-type="application/javascript" data-name="analytics">{TAG}</script>'))


class CdnLikeHandler(SimpleHTTPRequestHandler):
    """Static files, compressed as a CDN would: brotli at quality 11 where asked, else gzip; pages as they are."""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        asked = self.headers.get("Accept-Encoding", "")
        if path.suffix not in (".js", ".css") or not path.is_file() or "gzip" not in asked:
            return super().send_head()
        data = path.read_bytes()
        coding, body = ("br", _brotli(path)) if "br" in asked else ("gzip", gzip.compress(data, 9))
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", coding)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=31536000")
        self.end_headers()
        from io import BytesIO
        return BytesIO(body)


_compressed: dict[Path, bytes] = {}


def _brotli(path: Path) -> bytes:
    if path not in _compressed:
        _compressed[path] = brotli.compress(path.read_bytes(), quality=11)
    return _compressed[path]


@contextmanager
def static_server(folder: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(CdnLikeHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextmanager
def make_run_server(work: Path, origin: str):
    """What `make run` serves: runserver on SQLite with DEBUG=1, migrated and seeded like `make run`."""
    port = stack.free_port()
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}", "PORT": str(port),
           "DJANGO_SETTINGS_MODULE": "cmp.settings"}
    for var in ("REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(var, None)
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "manage.py", "seed_demo", "--origin", origin], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen([python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        stack.wait_for(lambda: stack.answers(base + "/healthz"), "runserver to serve")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextmanager
def production_server(origin: str):
    """gunicorn (2 sync workers) on PostgreSQL and a redis-server of its own, DEBUG off."""
    with stack.redis_server() as redis_port:
        stack.fresh_database(DB, redis_port)
        env = {**stack.environment(DB, redis_port), "DJANGO_SETTINGS_MODULE": "cmp.settings"}
        subprocess.run([sys.executable, "manage.py", "seed_demo", "--origin", origin], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        try:
            with stack.gunicorn(DB, redis_port, env=env) as base:
                yield base
        finally:
            stack.drop_database(DB)


def load(browser, url: str, banner: str | None) -> dict:
    """One first visit of ``url`` in a fresh context; the banner's figures (None for the blank page)."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Performance.enable")
    wire, kinds = {}, {}
    cdp.on("Network.requestWillBeSent", lambda e: kinds.setdefault(e["requestId"], e.get("type")))
    cdp.on("Network.loadingFinished", lambda e: wire.__setitem__(e["requestId"], e["encodedDataLength"]))
    selector, accept = BANNERS[banner] if banner else ("return null;", None)
    page.add_init_script(WATCH.replace("SELECTOR", selector))
    page.goto(url, wait_until="commit")
    if banner is None:
        page.wait_for_function("performance.getEntriesByName('first-paint').length > 0")
        row = {"visible": page.evaluate("performance.getEntriesByName('first-paint')[0].startTime")}
        context.close()
        return row
    page.wait_for_function("window.opaqueAt !== undefined", timeout=20_000)
    script = next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "ScriptDuration")
    page.wait_for_load_state("networkidle")
    banner_bytes = [size for rid, size in wire.items() if kinds.get(rid) != "Document"]
    row = {"visible": page.evaluate("window.visibleAt"), "opaque": page.evaluate("window.opaqueAt"),
           "script": script * 1000, "bytes": sum(banner_bytes), "requests": len(banner_bytes),
           "shift": page.evaluate("window.shift")}
    page.locator(accept).click()
    page.wait_for_function("window.tagRan !== undefined")
    row["click_to_tag"] = page.evaluate("window.tagRan - window.clickAt")
    context.close()
    return row


def median_p90(values):
    values = sorted(values)
    p90 = statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]
    return statistics.median(values), p90


def main():
    stack.exit_on_sigterm()
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15, help="first visits of each page")
    runs = parser.parse_args().runs
    started = datetime.now(UTC)
    if not (PEERS / "node_modules" / "klaro").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEERS, check=True)
    work = Path(tempfile.mkdtemp(prefix="cmp-bench-banner-"))
    (work / "node_modules").symlink_to(PEERS / "node_modules")
    from playwright.sync_api import sync_playwright

    with ExitStack() as servers:
        site = servers.enter_context(static_server(work))
        ours = {"ours-make-run": servers.enter_context(make_run_server(work, site)),
                "ours-gunicorn": servers.enter_context(production_server(site))}
        pages(work, ours)
        variants = [("blank", None), ("ours-make-run", "ours"), ("ours-gunicorn", "ours"), ("vcc", "vcc"), ("klaro", "klaro")]
        rows = {name: [] for name, _ in variants}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            for name, banner in variants:  # warm-up, not counted: each server's first answers load its code
                load(browser, f"{site}/{name}.html", banner)
            for round_ in range(runs):
                for name, banner in variants[round_ % len(variants):] + variants[:round_ % len(variants)]:
                    rows[name].append(load(browser, f"{site}/{name}.html", banner))
            browser.close()
    write_report(rows, runs, started)


LABELS = {"ours-make-run": "ours, `make run` (runserver)", "ours-gunicorn": "ours, gunicorn + PostgreSQL + Redis",
          "vcc": "vanilla-cookieconsent 3.1.0", "klaro": "Klaro 0.7.22"}


def write_report(rows, runs, started):
    blank = median_p90([r["visible"] for r in rows["blank"]])
    table = [
        f"First visits, {runs} per page in one headless Chromium, fresh context each, pages interleaved; "
        "median / p90. Times in ms from navigation start.",
        "",
        "| page | visible | after blank's first paint | fully opaque | script | bytes on the wire | requests | layout shift | click → tag |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| blank page (first paint) | {blank[0]:.0f} / {blank[1]:.0f} | | | | | | | |",
    ]
    for name, label in LABELS.items():
        r = rows[name]
        col = {k: median_p90([x[k] for x in r]) for k in ("visible", "opaque", "script", "bytes", "requests", "shift", "click_to_tag")}
        table.append(
            f"| {label} | {col['visible'][0]:.0f} / {col['visible'][1]:.0f} | +{col['visible'][0] - blank[0]:.0f} "
            f"| {col['opaque'][0]:.0f} / {col['opaque'][1]:.0f} | {col['script'][0]:.1f} / {col['script'][1]:.1f} "
            f"| {col['bytes'][0]:,.0f} | {col['requests'][0]:.0f} | {col['shift'][0]:.3f} / {col['shift'][1]:.3f} "
            f"| {col['click_to_tag'][0]:.1f} / {col['click_to_tag'][1]:.1f} |")
    table = "\n".join(table)
    report = "\n".join([
        table, "",
        "*Visible*: the first frame in which the banner has a box, is not hidden and not fully transparent; "
        "*fully opaque*: the first with its opacity (and its ancestors') at 1, after any fade. *After blank's first "
        "paint*: the median visible time less the blank page's median first paint. *Script*: Chromium's "
        "ScriptDuration until fully opaque. *Bytes on the wire*: every response but the page's HTML, compressed as "
        "served, headers included, until the network is idle (ours includes its clean-up rules request). "
        "*Click → tag*: from the pointer going down on Accept all to the gated analytics tag running.",
        "",
        "The peers are served by a static server that compresses as a CDN would (brotli at quality 11); ours "
        "by the platform itself (brotli at quality 5, `cmp/compression.py`).",
    ])
    results.write(HERE / "RESULTS.md", "The banner against its peers, first visits", "bench/banner/bench_banner.py",
                  MEASURED, report, table, started)
    results.copy_into_readme()


if __name__ == "__main__":
    main()
