"""The tests' TCP proxy stands in for a server: it passes what it gets both ways, and closes nothing the
server would keep open."""
import socket
import threading
import time

from tests.support import free_port
from tests.support.tcp_proxy import TcpProxy


def echo_server():
    """A server on loopback that answers every line with the same line, and never closes an idle connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve(conn):
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


def test_a_connection_idle_longer_than_the_proxys_connect_timeout_stays_open():
    server = echo_server()
    proxy = TcpProxy(server.getsockname()[1])
    try:
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        client.sendall(b"one\n")
        assert client.recv(16) == b"one\n"
        time.sleep(2.5)  # idle: the very condition under test, longer than the 2 s the proxy gives its connect
        client.sendall(b"two\n")
        assert client.recv(16) == b"two\n"
    finally:
        proxy.close()
        server.close()


def test_the_proxy_notes_why_it_closed_a_connection_it_accepted():
    proxy = TcpProxy(free_port())  # nothing listens there
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
            assert client.recv(16) == b""  # closed by the proxy: it found no server behind it
        proxy.cut()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
            assert client.recv(16) == b""
        assert proxy.turned_away == [f"connecting to port {proxy.target[1]}: "
                                     "ConnectionRefusedError(111, 'Connection refused')", "cut"]
    finally:
        proxy.close()
