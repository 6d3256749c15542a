"""Scanner throughput and Chromium's memory over a 50-page scan.

    .venv/bin/python bench/scanner/bench_scanner.py [--pages 50]

The proof shop (tests/support/proof_shop: five untagged trackers and a leaky
inline script on every page) lists --pages product pages in its sitemap.xml;
the platform serves the banner from a WSGI server in this process (SQLite in
a temporary folder); the scan runs here as a worker runs it (three passes per
page, behind the guard). Chromium's memory is the summed resident set of its
processes, sampled every 0.2 s. Writes bench/scanner/RESULTS.md (bench/results.py).
"""
import argparse
import ipaddress
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench import results  # noqa: E402

MEASURED = ["bench/scanner/bench_scanner.py", "scanner/chromium.py", "scanner/guard.py", "scanner/observations.py",
            "scanner/scans.py", "scanner/sitemap.py", "tests/support/proof_shop/__init__.py"]
WORK = tempfile.mkdtemp(prefix="bench-scanner-")
os.environ.update(DJANGO_SETTINGS_MODULE="cmp.settings", DEBUG="1", DATABASE_URL=f"sqlite:///{WORK}/db.sqlite3",
                  ALLOWED_HOSTS="127.0.0.1,localhost")


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # the banner's requests (config, rules, stylesheet) in parallel, as under gunicorn


def chromium_rss(port) -> int:
    """Bytes resident in the Chromium processes launched for the guard on ``port``."""
    mine, total = f"socks5://127.0.0.1:{port}".encode(), 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and mine in (entry / "cmdline").read_bytes():
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=50)
    args = parser.parse_args()
    started_at = datetime.now(UTC)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    from consent.models import Site
    from scanner import scans
    from scanner.chromium import Chromium
    from scanner.models import Scan, ScanSettings
    from tests.support.proof_shop import ADDRESS, ProofShop

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    platform = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=ThreadingServer, handler_class=Quiet)
    threading.Thread(target=platform.serve_forever, daemon=True).start()
    cmp = f"http://127.0.0.1:{platform.server_port}"
    settings.CMP_PUBLIC_URL = cmp
    shop = ProofShop(cmp, pages=args.pages)
    site = Site.objects.get(key="demo")
    site.allowed_origins = [shop.origin]
    site.save()
    ScanSettings.objects.create(site=site, urls=[shop.url], use_sitemap=True, page_limit=args.pages)

    peak, samples, stop = [0], [], threading.Event()
    browser = Chromium(private_networks=(ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network(f"{ADDRESS}/32")),
                       hosts={host: ADDRESS for host in shop.hosts()})

    def sample():
        while not stop.wait(0.2):
            rss = chromium_rss(browser.guard.port) if browser.guard.port else 0
            samples.append(rss)
            peak[0] = max(peak[0], rss)

    threading.Thread(target=sample, daemon=True).start()
    scan = scans.create_scan(site, "command")
    started = time.monotonic()
    status = scans.run(scan.pk, lambda: browser)
    elapsed = time.monotonic() - started
    stop.set()
    scan = Scan.objects.get(pk=scan.pk)
    assert status == Scan.DONE, scan.error
    shop.stop()
    platform.shutdown()

    nonzero = [s for s in samples if s]
    mib = 1024 * 1024
    peak_mib, median_mib = peak[0] / mib, sorted(nonzero)[len(nonzero) // 2] / mib
    last_quarter_mib = max(nonzero[3 * len(nonzero) // 4:]) / mib
    per_minute = scan.pages_done / elapsed * 60
    report = "\n".join([
        f"Each page is opened three times (before a choice, after Reject all, after Accept all), each in a fresh "
        f"browser profile; Chromium is restarted every {browser.limits.restart_every} pages.",
        "",
        "| what | value |",
        "|---|---:|",
        f"| pages scanned (from the sitemap) | {scan.pages_done} |",
        f"| page loads (3 passes, plus a reload after each click) | {scan.pages_done * 5} |",
        f"| wall time | {elapsed:.1f} s |",
        f"| **pages per minute** | **{per_minute:.1f}** |",
        f"| items in the inventory | {scan.items_seen} |",
        f"| violations recorded | {scan.violation_count} |",
        f"| Chromium memory, peak (sum of its processes) | {peak_mib:.0f} MiB |",
        f"| Chromium memory, median while scanning | {median_mib:.0f} MiB |",
        f"| Chromium memory, last quarter's peak (no growth) | {last_quarter_mib:.0f} MiB |",
    ])
    readme = "\n".join([
        f"| {scan.pages_done}-page scan of the proof shop, {scan.pages_done * 5} page loads | value |",
        "|---|---:|",
        f"| wall time | {elapsed:.0f} s |",
        f"| pages per minute | {per_minute:.1f} |",
        f"| Chromium memory: median / peak / last quarter's peak | {median_mib:.0f} / {peak_mib:.0f} / "
        f"{last_quarter_mib:.0f} MiB |",
    ])
    results.write(Path(__file__).parent / "RESULTS.md", "Scanner throughput and memory", "bench/scanner/bench_scanner.py",
                  MEASURED, report, readme, started_at)


if __name__ == "__main__":
    main()
