"""A site that serves hostile pages to the scanner, and an "internal" server it must never reach.

The site is on 127.0.0.2 (the scanner is told it may go there); the internal
server is on 127.0.0.3, standing for the worker's own network (a metadata
service, an admin panel): it records every request, and there must be none.
"""
import http.server
import threading

from . import free_port

SITE_ADDRESS, INTERNAL_ADDRESS = "127.0.0.2", "127.0.0.3"
SITE, INTERNAL = "hostile.test", "internal.test"
HUGE_BYTES = 64 * 1024 * 1024


class Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler):
        super().__init__((address, free_port()), handler)
        self.requests = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self):
        self.shutdown()
        self.server_close()


class InternalHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"secret")

    def log_message(self, *args):
        pass


class HostileSite:
    def __init__(self, sitemap_urls=1_000_000):
        self.internal = Recorder(INTERNAL_ADDRESS, InternalHandler)
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.server.requests.append(self.path)
                if self.path == "/":
                    return self.page(
                        f'<img src="http://{INTERNAL}:{site.internal_port}/by-name.gif">'
                        f'<script src="http://{INTERNAL_ADDRESS}:{site.internal_port}/by-address.js"></script>'
                        f'<iframe src="/to-internal"></iframe>'
                        f'<img src="http://[::1]:{site.internal_port}/v6.gif">')
                if self.path == "/to-internal":
                    return self.redirect(f"http://{INTERNAL}:{site.internal_port}/redirected")
                if self.path == "/loop":
                    return self.redirect("/loop")
                if self.path == "/huge":
                    return self.huge()
                if self.path == "/sitemap.xml":
                    return self.sitemap()
                return self.page("<p>A product.</p>")

            def page(self, body):
                data = f"<!doctype html><title>Hostile</title>{body}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def huge(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                chunk = b"<p>" + b"x" * 65532
                try:
                    for _ in range(HUGE_BYTES // len(chunk)):
                        self.wfile.write(chunk)
                except OSError:
                    site.huge_cut = True  # the reader hung up before the end

            def sitemap(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.end_headers()
                try:
                    self.wfile.write(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
                    for start in range(0, sitemap_urls, 1000):
                        self.wfile.write("".join(f"<url><loc>{site.origin}/p/{i}</loc></url>"
                                                 for i in range(start, start + 1000)).encode())
                    self.wfile.write(b"</urlset>")
                except OSError:
                    site.sitemap_cut = True

            def log_message(self, *args):
                pass

        self.huge_cut = self.sitemap_cut = False
        self.server = Recorder(SITE_ADDRESS, Handler)

    @property
    def internal_port(self):
        return self.internal.server_address[1]

    @property
    def origin(self):
        return f"http://{SITE}:{self.server.server_address[1]}"

    def stop(self):
        self.server.stop()
        self.internal.stop()
