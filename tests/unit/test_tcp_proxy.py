"""The tests' TCP proxy stands in for a server: it passes what it gets both ways, and closes nothing the
server would keep open."""
import contextlib
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
        with conn, contextlib.suppress(ConnectionResetError):  # the proxy resets what it closes
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


def test_a_cut_closes_the_servers_side_and_the_applications_side_at_once():
    """A cut is an outage on both sides: the server sees its connection end (an idle one left open is a session
    the database keeps for the rest of the run), and the application is reset without having to send first."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    proxy = TcpProxy(listener.getsockname()[1])
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
            server_side, _ = listener.accept()
            with server_side:
                server_side.settimeout(10)
                client.sendall(b"hello")
                assert server_side.recv(16) == b"hello"
                proxy.cut()
                assert ended(server_side)  # the proxy's upstream socket is gone, not merely forgotten
                assert ended(client)
    finally:
        proxy.close()
        listener.close()


def ended(sock):
    """Whether the peer has closed or reset sock: waits for it (the timeout is the socket's)."""
    try:
        return sock.recv(16) == b""
    except ConnectionResetError:
        return True
