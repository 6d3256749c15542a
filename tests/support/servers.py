"""Extra redis-server processes a test starts, stops and restarts on ports of its own: one server, a Redis
Cluster, a master and its replica behind Sentinels."""
import os
import shutil
import socket
import subprocess

import pytest

from . import free_port, wait_until
from .tcp_proxy import TcpProxy


def redis_answers(port=6379) -> bool:
    """Does a Redis server answer PING on 127.0.0.1:``port``?"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def needs_redis_server():
    if not shutil.which("redis-server"):
        message = "needs the redis-server program (apt-get install redis-server)"
        if os.environ.get("CI") == "true":  # the Redis client alone is not enough: .ci/servers installs the server
            pytest.fail(f"{message}: CI must run this test (.ci/servers installs it)")
        pytest.skip(f"{message}; .ci/run installs it")


class RedisServer:
    """A redis-server of the test's own, kept in memory; restartable, then holding its last ``save`` snapshot."""

    def __init__(self, workdir):
        needs_redis_server()
        self.port, self.workdir, self.proc = free_port(), workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self.cli("ping") == "PONG", 10, "redis-server to start")
        return self

    def cli(self, *args) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True).stdout.strip()

    def stop(self):
        """A clean shutdown."""
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def crash(self):
        """SIGKILL: whatever was not in the last snapshot is gone."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class RedisClusterServers:
    """A Redis Cluster of the test's own: ``masters`` redis-servers on loopback ports, no replicas.

    Each node announces the port of a :class:`TcpProxy` in front of it, so the application reaches every node
    through a proxy that :meth:`cut`, :meth:`restore` and :attr:`delay` act on together (the nodes keep
    talking to each other on their cluster bus, which no proxy stands in).
    """

    def __init__(self, workdir, masters=3):
        needs_redis_server()
        self.workdir, self.masters = workdir, masters
        self.ports, self.proxies, self.procs = [], [], []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{proxy.port}" for proxy in self.proxies)

    def start(self):
        for index in range(self.masters):
            port, folder = free_port(), self.workdir / f"node{index}"
            folder.mkdir(parents=True, exist_ok=True)
            proxy = TcpProxy(port)
            self.ports.append(port)
            self.proxies.append(proxy)
            self.procs.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(folder), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-port", str(free_port()), "--cluster-announce-port", str(proxy.port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            wait_until(lambda port=port: self.cli(port, "ping") == "PONG", 10, "a cluster node to start")
        created = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
                                  "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True)
        assert created.returncode == 0, created.stdout + created.stderr
        for port in self.ports:
            wait_until(lambda port=port: "cluster_state:ok" in self.cli(port, "cluster", "info"), 30,
                       "the cluster to cover every slot")
        return self

    @staticmethod
    def cli(port, *args) -> str:
        return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True).stdout.strip()

    def cut(self):
        for proxy in self.proxies:
            proxy.cut()

    def restore(self):
        for proxy in self.proxies:
            proxy.restore()

    @property
    def delay(self) -> float:
        return self.proxies[0].delay

    @delay.setter
    def delay(self, seconds: float):
        for proxy in self.proxies:
            proxy.delay = seconds

    def stop(self):
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=10)
        for proxy in self.proxies:
            proxy.close()
