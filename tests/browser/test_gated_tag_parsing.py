"""A gated inline tag runs whole, once, even when its text reaches the parser in pieces.

The HTML parser inserts a ``<script>`` element first and adds its text as the bytes come. On a slow
connection or a busy machine the banner's observer can see the element before its text is complete: it
must wait until the parser has moved past it, or the tag runs half-read and is lost (seen under CPU load
as the demo's analytics tag never running). Here a page is served in two pieces, cut inside the tag's
text, and the second piece is held back until the first is in the page.
"""
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from consent.models import Site

pytestmark = pytest.mark.browser
HALF = """window.cmpTest = window.cmpTest || [];
  window.cmpTest.push("start");"""
REST = """
  window.cmpTest.push("end");"""


class TwoPieces(ThreadingHTTPServer):
    """Serves one page: its first piece at once, the rest once ``release`` is set."""

    daemon_threads = True

    def __init__(self, first: bytes, rest: bytes):
        self.first, self.rest, self.release = first, rest, threading.Event()
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(self.server.first)
        self.wfile.flush()
        self.server.release.wait(60)
        self.wfile.write(self.server.rest)

    def log_message(self, *args):
        pass


@contextmanager
def two_pieces(browser, demo, first: str, rest: str):
    """A page of the demo site served in two pieces, the second held back until ``release`` is set; yields
    (page, server). In the US the demo site's regime is opt-out: analytics is granted as the banner starts."""
    head = f'<!doctype html><html lang="en"><head><script src="{demo}/c/demo.js"></script></head><body><main>'
    server = TwoPieces((head + first).encode(), (rest + "</main></body></html>").encode())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = Site.objects.get(key="demo")
    site.allowed_origins = [*site.allowed_origins, f"http://127.0.0.1:{server.server_port}"]
    site.save()
    context = browser.new_context(extra_http_headers={"CF-IPCountry": "US"})
    page = context.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/", wait_until="commit")
        yield page, server
    finally:
        server.release.set()
        context.close()
        server.shutdown()
        server.server_close()


def test_an_inline_tag_whose_text_comes_in_pieces_runs_whole_once(browser, demo):
    first = f'<!-- {"padding " * 600} --><script type="text/plain" data-cmp-purpose="analytics">{HALF}'
    with two_pieces(browser, demo, first, f"{REST}\n</script><p>The end of the page.</p>") as (page, server):
        # The first piece is in: the tag's element (or, were it taken half-read, what it ran).
        page.wait_for_function("!!window.cmp && (!!window.cmpTest || "
                               "!!document.querySelector('script[data-cmp-purpose=\"analytics\"]'))")
        assert page.evaluate("window.cmp.decisions().analytics") is True
        # The element is in the page and its purpose granted, and the observer has seen it (its callback runs
        # before this later task): a half-read tag would have run by now.
        assert page.evaluate("window.cmpTest || null") is None
        server.release.set()
        page.wait_for_function("document.readyState === 'complete' && (window.cmpTest || []).length > 0")
        assert page.evaluate("window.cmpTest") == ["start", "end"]


def test_tags_keep_document_order_when_one_is_the_last_thing_in_its_parent(browser, demo):
    # A tag that ends its wrapper is finished once anything follows the wrapper: it runs before the next tag.
    tag = '<script type="text/plain" data-cmp-purpose="analytics">(window.cmpTest = window.cmpTest || []).push("{}");</script>'
    first = f'<div class="ads">{tag.format("A")}</div>{tag.format("B")}<p>After the tags.</p>'
    with two_pieces(browser, demo, first, "<p>The end of the page.</p>") as (page, server):
        page.wait_for_function("!!window.cmp && (window.cmpTest || []).length > 0")
        server.release.set()
        page.wait_for_function("document.readyState === 'complete' && window.cmpTest.length === 2")
        assert page.evaluate("window.cmpTest") == ["A", "B"]
