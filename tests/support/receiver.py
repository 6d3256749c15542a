"""A real HTTP webhook receiver on 127.0.0.1 for tests: records what it gets."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import free_port


class Receiver:
    def __init__(self, port=None, status=200, stall_first=0.0, headers=None, on_post=None):
        self.port = port or free_port()
        self.status = status
        self.headers = headers or {}  # sent with every answer (a Location, say)
        self.stall_first = stall_first  # seconds the first request waits for its answer
        self.on_post = on_post  # called with the parsed body before answering (in the server's thread)
        self.received = []  # (headers, raw body, parsed body)
        self.requests = []  # (method, path) of every request, whatever its method
        self._server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hooks/consent"

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.requests.append(("POST", self.path))
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append((self.headers, raw, json.loads(raw)))  # headers: case-insensitive
                if receiver.on_post:
                    receiver.on_post(receiver.received[-1][2])
                if len(receiver.received) == 1 and receiver.stall_first:
                    time.sleep(receiver.stall_first)
                self._answer()

            def do_GET(self):
                receiver.requests.append(("GET", self.path))
                self._answer()

            def _answer(self):
                self.send_response(receiver.status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def event_ids(self):
        return [headers["X-CMP-Event-Id"] for headers, _, _ in self.received]
