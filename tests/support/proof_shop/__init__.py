"""The proof page: a shop page with five untagged trackers on their own host names, and a leaky inline script
(and, beyond the five, a pixel a script sends to another host and a pixel in the markup).

:class:`ProofShop` serves the shop and each tracker by the request's Host,
on 127.0.0.2 (127.0.0.1 is left to the platform; nothing here is on the
internet: the tracker host names reach this server only through Chromium's
``--host-resolver-rules`` or the scanner's ``CMP_SCANNER_HOSTS``).
"""
import http.server
import ipaddress
import json
import threading
import urllib.request
from pathlib import Path

from consent.models import Site
from scanner.holding import hold_markup
from scanner.models import ScanSettings

from .. import free_port

HERE = Path(__file__).resolve().parent
ADDRESS = "127.0.0.2"
SHOP = "shop.proof.test"
GIF = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")

# The five trackers: host -> what the scan must find it to be (the catalogue's category and vendor).
TRACKERS = {
    "www.googletagmanager.com": ("analytics", "Google Tag Manager"),  # the analytics script
    "analytics.tiktok.com": ("advertising", "TikTok Pixel"),  # a pixel, sent by its script
    "securepubads.g.doubleclick.net": ("advertising", "Google Ads (DoubleClick)"),  # the ad iframe
    "platform.twitter.com": ("social", "X (Twitter)"),  # the social widget
    "static.zdassets.com": ("chat", "Zendesk Chat"),  # the chat widget
}
# Beyond the five: a pixel a script sends to a host of its own (Snap's pattern: the
# script on sc-static.net, the image on tr.snapchat.com), and a pixel written in the
# markup (Yandex Metrica's <noscript> image).
MORE_TRACKERS = {
    "sc-static.net": ("advertising", "Snapchat Pixel"),
    "tr.snapchat.com": ("advertising", "Snapchat Pixel"),
    "mc.yandex.ru": ("analytics", "Yandex Metrica"),
}
# Chosen among catalogued hosts that Chromium's HSTS preload list does not
# force to HTTPS (this server speaks plain HTTP).
LEAK = "_pk_id.1.proof"
# The cookie a tracker's response sets with Set-Cookie: server-side Google Tag
# Manager answers the analytics script's hit on the shop's own origin (a
# third-party response could not set it: Chromium refuses a SameSite=Lax cookie
# from a cross-site response, and SameSite=None needs HTTPS).
SERVER_SET = "FPID"
SERVER_SET_PATH = "/metrics/g/collect"
# The sessionStorage key the pixel script writes.
SESSION_KEY = "tt_sessionId"
MARKUP_PIXEL = ("mc.yandex.ru", "/watch/1")

SCRIPTS = {
    ("www.googletagmanager.com", "/gtag/js"): """
document.cookie = "_ga=GA1.1.1.1; max-age=63072000; path=/; SameSite=Lax";
document.cookie = "_gid=GA1.1.2.2; max-age=86400; path=/; SameSite=Lax";
new Image().src = "http://www.googletagmanager.com:{port}/g/collect?v=2";
new Image().src = location.origin + "/metrics/g/collect?v=2";""",
    ("analytics.tiktok.com", "/i18n/pixel/events.js"): """
document.cookie = "_ttp=proof; max-age=33696000; path=/; SameSite=Lax";
sessionStorage.setItem("tt_sessionId", "proof");
new Image().src = "http://analytics.tiktok.com:{port}/api/v2/pixel?event=PageView";""",
    ("platform.twitter.com", "/widgets.js"): """
var f = document.createElement("iframe");
f.src = "http://platform.twitter.com:{port}/embed.html"; f.title = "Follow us"; f.width = 200; f.height = 40;
document.body.appendChild(f);""",
    ("static.zdassets.com", "/ekr/snippet.js"): """
localStorage.setItem("ZD-suid", "proof");
document.cookie = "__zlcmid=proof; max-age=31536000; path=/";""",
    ("sc-static.net", "/scevent.min.js"): """
new Image().src = "http://tr.snapchat.com:{port}/p?ev=PAGE_VIEW";""",
}
PAGES = {
    ("securepubads.g.doubleclick.net", "/ad.html"): "<!doctype html><title>Ad</title><p>An advertisement.</p>",
    ("platform.twitter.com", "/embed.html"): "<!doctype html><title>Follow</title><p>Follow us.</p>",
}


class ProofShop:
    """The shop and its trackers on one port of 127.0.0.2; ``cmp`` is the platform's origin the page loads the banner from."""

    def __init__(self, cmp: str, pages: int = 1, held: bool = False):
        """``pages``: how many product pages its sitemap.xml lists (each the same shop page); ``held``: the
        shop's server holds the trackers in its page (scanner.holding, with the platform's tracker rules), as
        the README's "Holding the markup on the server" asks of a site."""
        self.cmp, self.port, self.requests = cmp, free_port(), []
        shop = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = self.headers.get("Host", "").rsplit(":", 1)[0]
                path = self.path.split("?", 1)[0]
                shop.requests.append((host, path))
                if host == SHOP and path == "/sitemap.xml":
                    urls = "".join(f"<url><loc>{shop.origin}/p/{i}</loc></url>" for i in range(pages))
                    return self.answer(200, "application/xml", f"<urlset>{urls}</urlset>".encode())
                if host == SHOP and (path == "/" or path.startswith("/p/")):
                    html = (HERE / "index.html").read_text().replace("{cmp}", shop.cmp).replace("{port}", str(shop.port))
                    if held:
                        with urllib.request.urlopen(f"{shop.cmp}/api/v1/sites/demo/trackers", timeout=10) as answer:
                            rules = json.load(answer)
                        html = hold_markup(html, rules["hosts"], rules["essential"])
                    return self.answer(200, "text/html", html.encode())
                if (host, path) in SCRIPTS:
                    # Each script says it ran, so a test can see in which order.
                    ran = f'(window.proofRan = window.proofRan || []).push("{host}");'
                    return self.answer(200, "text/javascript", (ran + SCRIPTS[host, path].replace("{port}", str(shop.port))).encode())
                if host == SHOP and path == SERVER_SET_PATH:
                    return self.answer(200, "image/gif", GIF, ("Set-Cookie", f"{SERVER_SET}=FPID2.2.proof; Max-Age=63072000; "
                                                                          "Path=/; HttpOnly; SameSite=Lax"))
                if (host, path) in PAGES:
                    return self.answer(200, "text/html", PAGES[host, path].encode())
                if path in ("/g/collect", "/api/v2/pixel", "/p", MARKUP_PIXEL[1]):
                    return self.answer(200, "image/gif", GIF)
                self.answer(404, "text/plain", b"not here")

            def answer(self, status, content_type, body, *headers):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((ADDRESS, self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{SHOP}:{self.port}/"

    @property
    def origin(self) -> str:
        return f"http://{SHOP}:{self.port}"

    def hosts(self) -> list[str]:
        return [SHOP, *TRACKERS, *MORE_TRACKERS]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def aim_scanner(shop: ProofShop, settings, cmp: str, **scan_settings) -> Site:
    """Point the scanner (its settings: the shop's host names, its addresses allowed) and the demo
    site (the shop's origin allowed, the shop's page listed) at ``shop``; returns the demo site."""
    settings.CMP_PUBLIC_URL = cmp
    settings.CMP_SCANNER_PRIVATE_NETWORKS = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network(f"{ADDRESS}/32"))
    settings.CMP_SCANNER_HOSTS = {"localhost": "127.0.0.1", **{host: ADDRESS for host in shop.hosts()}}
    site = Site.objects.get(key="demo")
    site.allowed_origins = [shop.origin]
    site.save()
    ScanSettings.objects.create(site=site, **{"urls": [shop.url], "use_sitemap": False, **scan_settings})
    return site
