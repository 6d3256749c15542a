"""The test suite's own Redis Cluster (tests/support/servers.py) starts even when a port it chose was taken
before its node could bind it, and a cluster that cannot start fails its set-up with the node's log and leaves
nothing running."""
import socket

import pytest

from tests.support import free_port, servers


@pytest.fixture
def taken_port():
    """A port some other process holds, as a thief between free_port() and redis-server's bind would."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def test_a_cluster_node_whose_port_was_taken_starts_on_another(tmp_path, monkeypatch, taken_port):
    chosen = iter([taken_port])
    monkeypatch.setattr(servers, "free_port", lambda: next(chosen, None) or free_port())
    cluster = servers.RedisClusterServers(tmp_path).start()
    try:
        assert taken_port not in cluster.ports
        assert len(cluster.ports) == 3 and all(servers.redis_answers(port) for port in cluster.ports)
        assert "Address already in use" in (tmp_path / "node0" / "redis.log").read_text()
    finally:
        cluster.stop()


def test_a_cluster_that_cannot_start_says_why_and_leaves_nothing_running(tmp_path, monkeypatch, taken_port):
    first_node = iter([free_port(), free_port()])  # its port and its cluster bus port; every later try meets the taken one
    monkeypatch.setattr(servers, "free_port", lambda: next(first_node, None) or taken_port)
    cluster = servers.RedisClusterServers(tmp_path)
    with pytest.raises(AssertionError, match="(?s)no cluster node started in 5 tries.*Address already in use"):
        cluster.start()
    [started] = cluster.procs
    assert started.poll() is not None  # the first node, stopped again
