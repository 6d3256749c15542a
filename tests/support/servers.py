"""Extra redis-server processes a test starts, stops and restarts on ports of its own."""
import os
import shutil
import socket
import subprocess

import pytest

from . import free_port, wait_until


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
