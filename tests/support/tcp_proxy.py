"""A TCP proxy on 127.0.0.1 that a test can cut and restore, to take a real
server (Redis, PostgreSQL) away from the application without stopping it, or
slow down (``delay``: seconds added before each answer the server sends)."""
import contextlib
import socket
import threading
import time


class TcpProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._listener.listen(64)
        self._open = True
        self._sockets = []
        self._lock = threading.Lock()
        self.turned_away = []  # why the proxy itself closed a connection it accepted: for a failing test's message
        self.delay = 0.0  # a slow server: the proxy holds each of its answers this long
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        """Refuse new connections and reset every open one, on both sides."""
        with self._lock:
            self._open = False
            for s in self._sockets:
                with contextlib.suppress(OSError):  # a pipe may have closed it already
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                _close_now(s)
            self._sockets.clear()

    def restore(self):
        with self._lock:
            self._open = True

    def close(self):
        self.cut()
        self._listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:
                    self.turned_away.append("cut")
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=2)
                except OSError as error:
                    self.turned_away.append(f"connecting to port {self.target[1]}: {error!r}")
                    client.close()
                    continue
                # The timeout was for connecting only: left on, the proxy would close any connection idle for
                # two seconds, which the server it stands for never does (a pooled connection idle that long
                # met "Connection closed by server").
                upstream.settimeout(None)
                self._sockets += [client, upstream]
            for a, b, answers in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pipe, args=(a, b, answers), daemon=True).start()

    def _pipe(self, source, sink, answers):
        try:
            while chunk := source.recv(65536):
                if answers and self.delay:
                    time.sleep(self.delay)  # the simulated slowness itself, not a wait for something
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _close_now(source)
            _close_now(sink)


def _close_now(sock):
    """Close sock so that its connection ends now. A close alone leaves the connection up while another of the
    proxy's threads waits in recv on it (Linux frees the socket only when that call returns): the server's side
    of an idle connection stayed open for the rest of the run. Shutting it down first ends that wait."""
    with contextlib.suppress(OSError):  # already closed, or never connected
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
