"""Banner size and time to visible, against the well-known open-source banners.

    .venv/bin/python bench/banner/bench_banner.py [--runs 15]

Sizes: our JS+CSS exactly as the platform serves them (/c/demo.js and
/c/cmp.css), gzipped at level 9, against vanilla-cookieconsent 3.1.0, Klaro
0.7.22 and tarteaucitron 1.34.0 fetched with `npm pack` into a temporary
folder. Each without texts: ours gets its strings with its config; Klaro's
"no-translations" build; tarteaucitron's core without its language file and
service catalogue.

Time: from navigation start to the banner visible in headless Chromium, for
our banner (including its config request) and for vanilla-cookieconsent,
both served by the same local static server on 127.0.0.1 in the same run,
with a blank page as the baseline. Medians of --runs page loads each.
Writes bench/banner/RESULTS.md.
"""
import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cmp.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")

COMPETITORS = {
    "vanilla-cookieconsent 3.1.0": ("vanilla-cookieconsent@3.1.0", ["dist/cookieconsent.umd.js", "dist/cookieconsent.css"]),
    "Klaro 0.7.22": ("klaro@0.7.22", ["dist/klaro-no-translations-no-css.js", "dist/klaro-no-translations.min.css"]),
    "tarteaucitron 1.34.0 (core)": ("tarteaucitronjs@1.34.0", ["tarteaucitron.min.js", "css/tarteaucitron.min.css"]),
}
VISIBLE = """() => new Promise(done => {
  const check = () => {
    const el = SELECTOR;
    if (el && el.offsetHeight > 0 && getComputedStyle(el).visibility !== 'hidden') done(performance.now());
    else requestAnimationFrame(check);
  };
  check();
})"""
OURS = "(document.querySelector('#cmp-root') && document.querySelector('#cmp-root').shadowRoot.querySelector('section.banner:not([hidden])'))"
VCC = "document.querySelector('#cc-main .cm')"


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 9))


def our_files():
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    client = Client()
    return {
        "c/demo.js": client.get("/c/demo.js").content,
        "c/cmp.css": client.get("/c/cmp.css").content,
        "api/v1/sites/demo/config": client.get("/api/v1/sites/demo/config?lang=en").content,
    }


def packed(spec: str, folder: Path) -> Path:
    subprocess.run(["npm", "pack", "-q", spec], cwd=folder, check=True, capture_output=True)
    archive = sorted(folder.glob("*.tgz"), key=os.path.getmtime)[-1]
    target = folder / spec.split("@")[0]
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path):
    handler = partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def time_to_visible(url: str, selector: str, runs: int) -> float:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        for _ in range(runs):
            context = browser.new_context()
            page = context.new_page()
            page.goto(url, wait_until="commit")
            times.append(page.evaluate(VISIBLE.replace("SELECTOR", selector)) if selector else page.evaluate(
                "new Promise(d => requestAnimationFrame(() => d(performance.now())))"))
            context.close()
        browser.close()
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    work = Path(tempfile.mkdtemp(prefix="cmp-bench-"))
    site = work / "site"
    ours = our_files()
    for name, data in ours.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)

    rows = [("ours: runtime + CSS as served", len(ours["c/demo.js"]) + len(ours["c/cmp.css"]),
             gz(ours["c/demo.js"]) + gz(ours["c/cmp.css"]))]
    for label, (spec, files) in COMPETITORS.items():
        package = packed(spec, work)
        data = [(package / f).read_bytes() for f in files]
        rows.append((label, sum(map(len, data)), sum(map(gz, data))))
        if spec.startswith("vanilla"):
            (site / "vcc").mkdir()
            for f in files:
                (site / "vcc" / Path(f).name).write_bytes((package / f).read_bytes())

    page = '<!doctype html><html lang="en"><head><meta charset="utf-8">{head}</head><body><main><h1>Shop</h1><p>Hello.</p></main>{body}</body></html>'
    (site / "blank.html").write_text(page.format(head="", body=""))
    (site / "ours.html").write_text(page.format(head='<script src="/c/demo.js"></script>', body=""))
    # hideFromBots: off, or it never shows in a headless, automated browser.
    vcc_config = ("CookieConsent.run({hideFromBots:false,categories:{necessary:{enabled:true,readOnly:true},analytics:{}},"
                  "language:{default:'en',translations:{en:{consentModal:{title:'Cookies',description:'We use cookies.',"
                  "acceptAllBtn:'Accept all',acceptNecessaryBtn:'Reject all',showPreferencesBtn:'Customize'},"
                  "preferencesModal:{title:'Preferences',sections:[]}}}}});")
    (site / "vcc" / "init.js").write_text(vcc_config)
    (site / "vcc.html").write_text(page.format(
        head='<link rel="stylesheet" href="/vcc/cookieconsent.css">',
        body='<script src="/vcc/cookieconsent.umd.js"></script><script src="/vcc/init.js"></script>'))

    server = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    blank = time_to_visible(base + "/blank.html", None, runs)
    mine = time_to_visible(base + "/ours.html", OURS, runs)
    theirs = time_to_visible(base + "/vcc.html", VCC, runs)
    server.shutdown()

    best = rows[0][2]
    lines = [
        "| banner | JS+CSS bytes | gzipped | vs ours |",
        "|---|---:|---:|---:|",
        *[f"| {label} | {raw:,} | {zipped:,} | {zipped / best:.1f}× |" for label, raw, zipped in rows],
        "",
        f"Our config answer (purposes, texts, UI strings; one request, cacheable with ETag): {gz(ours['api/v1/sites/demo/config']):,} bytes gzipped.",
        "",
        f"| time to banner visible (median of {runs}, headless Chromium, 127.0.0.1) | ms |",
        "|---|---:|",
        f"| blank page, first frame (baseline) | {blank:.1f} |",
        f"| ours (script + stylesheet + config request) | {mine:.1f} |",
        f"| vanilla-cookieconsent 3.1.0 | {theirs:.1f} |",
    ]
    report = "\n".join(lines)
    print(report)
    (Path(__file__).parent / "RESULTS.md").write_text("# Banner size and speed\n\nMade by `bench/banner/bench_banner.py`.\n\n" + report + "\n")


if __name__ == "__main__":
    main()
