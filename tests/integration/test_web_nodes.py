"""Web nodes share nothing but PostgreSQL and Redis: a write through one is seen at once through the other.

Two real gunicorn servers on the test's PostgreSQL and Redis (CI's second
pass), or on a Redis Cluster of three masters: every lookup after a write
returned, through either server, answers with that write (consent/cache.py,
docs/cache.md).
"""

import pytest
from django.conf import settings
from django.core.management import call_command

from cmp.redis_cache import RedisCache
from tests.support import http, needs_postgresql_and_redis, new_visitor_id, product_server, token_of
from tests.support.servers import clear_when_answering

pytestmark = pytest.mark.guarantee


def choose(base, visitor, analytics: bool, token=None):
    body = {"visitor_id": visitor, "choices": {"analytics": analytics, "advertising": False, "recognition": False},
            "policy_version": "1", "token": token or token_of(visitor)}
    status, answer = http("POST", f"{base}/api/v1/sites/demo/consents", body)
    assert status == 201, answer
    return answer["token"]


def analytics(base, visitor):
    status, answer = http("GET", f"{base}/api/v1/sites/demo/decisions/{visitor}")
    assert status == 200, answer
    return answer["decisions"]["analytics"]


def flip_and_look(reader, writer, rounds=12):
    """Write through one server while the other has the old answer cached; the other must answer with the new choice."""
    visitor = new_visitor_id()
    token = choose(writer, visitor, True)
    for round_ in range(rounds):
        granted = round_ % 2 == 0
        assert analytics(reader, visitor)["granted"] is granted  # now cached in Redis
        assert analytics(reader, visitor)["granted"] is granted
        choose(writer, visitor, not granted, token)
        assert analytics(reader, visitor) == {"granted": not granted, "reason": "choice"}, f"stale in round {round_}"


@pytest.fixture(params=["one server", "cluster"])
def shared_redis(request):
    """(environment of both servers, the cluster or None): the run's Redis, or a Redis Cluster of three masters."""
    needs_postgresql_and_redis()
    if request.param == "one server":
        return {}, None
    cluster = request.getfixturevalue("redis_cluster")
    clear_when_answering(RedisCache(cluster.url, {}), cluster.proxies)
    # The cluster holds the cache only; the run's own Redis stays the broker.
    return {"redis_url": cluster.url, "CELERY_BROKER_URL": settings.REDIS_URL}, cluster


@pytest.mark.django_db(transaction=True)
def test_no_server_answers_from_before_a_write_that_returned_through_the_other(tmp_path, shared_redis):
    environment, cluster = shared_redis
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    with product_server(tmp_path / "a.log", **environment) as a, product_server(tmp_path / "b.log", **environment) as b:
        flip_and_look(reader=a, writer=b)
        flip_and_look(reader=b, writer=a)
    if cluster:
        holding = [port for port in cluster.ports if cluster.cli(port, "dbsize") != "0"]
        assert len(holding) >= 2, "the servers should have cached on the cluster, on more than one master"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ten_thousand_alternating_requests_through_two_servers_meet_no_stale_answer(tmp_path):
    """Writes and lookups alternate between the two servers: each lookup asks the other server about the
    visitor just written, whose previous answer that server has cached. 5,000 writes, 5,000 lookups."""
    needs_postgresql_and_redis()
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    visitors = [new_visitor_id() for _ in range(10)]
    # 5,000 writes from one address: above the default limit per address (600 a minute) on a fast machine.
    unlimited = {"CMP_RATE_WRITES_PER_IP": "1000000/60", "CMP_RATE_WRITES_PER_SITE": "1000000/60"}
    with product_server(tmp_path / "a.log", **unlimited) as a, product_server(tmp_path / "b.log", **unlimited) as b:
        tokens = {visitor: choose(a, visitor, False) for visitor in visitors}
        for visitor in visitors:
            assert analytics(b, visitor)["granted"] is False  # cached by b
        stale = []
        for i in range(5000):
            writer, reader = (a, b) if i % 2 else (b, a)
            visitor, granted = visitors[i % len(visitors)], (i // len(visitors)) % 2 == 0
            choose(writer, visitor, granted, tokens[visitor])
            if analytics(reader, visitor) != {"granted": granted, "reason": "choice"}:
                stale.append(i)
        assert not stale, f"{len(stale)} stale answers, first at requests {stale[:5]}"
