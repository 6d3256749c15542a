"""Extra redis-server processes a test starts, stops and restarts on ports of its own: one server, a Redis
Cluster, a master and its replica behind Sentinels."""
import os
import shutil
import socket
import subprocess
import warnings

import pytest
import redis

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


def clear_when_answering(store, proxies=()):
    """Empty the cache ``store`` before a test, waiting for it to answer.

    Under CPU burners the first connection of a new Redis Cluster client through the proxies has now and then
    met "Connection closed by server" (about one whole-suite run in four; the cause is not found). That is the
    test's set-up failing, not what it tests, so the set-up tries again, and says so in a warning with what
    ``proxies`` (:class:`TcpProxy`) turned away, to leave evidence of the cause in the run's summary.
    """
    failures = []

    def cleared():
        try:
            store.clear()
            return True
        except (redis.exceptions.ConnectionError, redis.exceptions.RedisClusterException) as error:
            failures.append(repr(error))
            return False

    try:
        wait_until(cleared, 10, "the cache to answer")
    finally:
        if failures:
            turned_away = [reason for proxy in proxies for reason in proxy.turned_away]
            warnings.warn(f"clearing the cache failed {len(failures)} time(s) before it answered: {failures[:3]}; "
                          f"the proxies turned away: {turned_away or 'nothing'}", stacklevel=2)


def needs_redis_server():
    if not shutil.which("redis-server"):
        message = "needs the redis-server program (apt-get install redis-server)"
        if os.environ.get("CI") == "true":  # the Redis client alone is not enough: .ci/servers installs the server
            pytest.fail(f"{message}: CI must run this test (.ci/servers installs it)")
        pytest.skip(f"{message}; .ci/run installs it")


class RedisServer:
    """A redis-server of the test's own, kept in memory; restartable, then holding its last ``save`` snapshot."""

    def __init__(self, workdir, *args):
        """``args``: more of redis-server's options, e.g. ``--replicaof host port``."""
        needs_redis_server()
        self.port, self.workdir, self.args, self.proc = free_port(), workdir, args, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), *self.args],
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
        self.ports, self.proxies, self.procs, self.args = [], [], [], []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{proxy.port}" for proxy in self.proxies)

    def start(self):
        """Start the masters and make them a cluster; what was started is stopped again if that fails."""
        try:
            for index in range(self.masters):
                self._start_node(self.workdir / f"node{index}")
            created = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
                                      "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True)
            assert created.returncode == 0, created.stdout + created.stderr
            self.wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, folder, tries=5):
        """Start a master on ports free a moment ago, behind a proxy of its own.

        Another process may take a port between :func:`free_port` choosing it and redis-server binding it (the
        one CI run where a node never answered gave no reason); a node that exits is started again on other
        ports, and one that never answers fails the set-up with its log.
        """
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "redis.log"
        for _ in range(tries):
            port = free_port()
            proxy = TcpProxy(port)
            args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", str(folder), "--logfile", str(log), "--cluster-enabled", "yes", "--cluster-config-file",
                    "nodes.conf", "--cluster-port", str(free_port()), "--cluster-announce-port", str(proxy.port)]
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_until(lambda proc=proc, port=port: proc.poll() is not None or redis_answers(port),
                           10, "a cluster node to start")
            except AssertionError:
                proc.kill()
                proc.wait(timeout=10)
                proxy.close()
                raise AssertionError(f"a cluster node did not answer in 10 s; its log ends: {_tail(log)}") from None
            if proc.poll() is None:
                self.ports.append(port)
                self.proxies.append(proxy)
                self.args.append(args)
                self.procs.append(proc)
                return
            proxy.close()
        raise AssertionError(f"no cluster node started in {tries} tries; the last one's log ends: {_tail(log)}")

    def wait_until_serving(self):
        for port in self.ports:
            wait_until(lambda port=port: "cluster_state:ok" in self.cli(port, "cluster", "info"), 30,
                       "the cluster to cover every slot")

    def owner(self, key: str) -> int:
        """The index of the master that holds ``key``'s slot (the others answer MOVED)."""
        return next(index for index, port in enumerate(self.ports) if self.cli(port, "exists", key) in ("0", "1"))

    def crash_and_restart(self, index: int):
        """SIGKILL one master and start it again: it comes back with its last ``save`` and its slots."""
        self.procs[index].kill()
        self.procs[index].wait(timeout=10)
        self.procs[index] = subprocess.Popen(self.args[index], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.cli(self.ports[index], "ping") == "PONG", 10, "the master to restart")
        self.wait_until_serving()

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


class RedisSentinels:
    """A master, its replica, and Redis Sentinels that watch them and promote the replica when the master dies.

    The replica reads the master through a :class:`TcpProxy` (:attr:`link`): cut it, and the replica misses
    what the master is told next. Sentinels judge the master down after half a second without an answer.
    """

    MASTER = "cmp-cache"

    def __init__(self, workdir, sentinels=3):
        needs_redis_server()
        (workdir / "master").mkdir()
        (workdir / "replica").mkdir()
        self.master = RedisServer(workdir / "master")
        self.link = TcpProxy(self.master.port)
        self.replica = RedisServer(workdir / "replica", "--replicaof", "127.0.0.1", str(self.link.port))
        self.workdir, self.sentinel_ports, self.procs = workdir, [free_port() for _ in range(sentinels)], []

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports) + f"/{self.MASTER}"

    def start(self):
        self.master.start()
        self.replica.start()
        wait_until(lambda: "master_link_status:up" in self.replica.cli("info", "replication"), 20,
                   "the replica to follow the master")
        quorum = len(self.sentinel_ports) // 2 + 1
        for port in self.sentinel_ports:
            config = self.workdir / f"sentinel-{port}.conf"  # the sentinel rewrites its own configuration
            config.write_text(f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                              f"sentinel monitor {self.MASTER} 127.0.0.1 {self.master.port} {quorum}\n"
                              f"sentinel down-after-milliseconds {self.MASTER} 500\n"
                              f"sentinel failover-timeout {self.MASTER} 10000\n")
            self.procs.append(subprocess.Popen(["redis-server", str(config), "--sentinel"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.sentinel_ports:
            wait_until(lambda port=port: self.watched(port).get("num-slaves") == "1"
                       and self.watched(port).get("num-other-sentinels") == str(len(self.sentinel_ports) - 1),
                       30, "every sentinel to know the replica and the other sentinels")
        return self

    def watched(self, port) -> dict:
        """What the sentinel on ``port`` knows of the master: ``SENTINEL MASTER`` as a dict."""
        lines = subprocess.run(["redis-cli", "-p", str(port), "sentinel", "master", self.MASTER],
                               capture_output=True, text=True).stdout.split("\n")
        return dict(zip(lines[::2], lines[1::2], strict=False))

    def replicated(self) -> bool:
        """Has the replica acknowledged everything the master was told so far (within five seconds)?"""
        return self.master.cli("wait", "1", "5000") == "1"

    def failed_over(self) -> bool:
        """Do the sentinels name the replica as the master now?"""
        answer = subprocess.run(["redis-cli", "-p", str(self.sentinel_ports[0]), "sentinel",
                                 "get-master-addr-by-name", self.MASTER], capture_output=True, text=True).stdout
        return answer.split() == ["127.0.0.1", str(self.replica.port)]

    def stop(self):
        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=10)
        for server in (self.master, self.replica):
            if server.running():
                server.crash()
        self.link.close()


def _tail(log, size=1500) -> str:
    return log.read_text(errors="replace")[-size:] if log.exists() else "(no log)"
