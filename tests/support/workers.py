"""Real Celery workers in processes of their own, against a broker the test started."""
import os
import signal
import subprocess
import sys
import time

import kombu.pools
from django.conf import settings

from cmp.celery import app as celery_app

from . import ROOT, database_url


def reset_connections():
    """Make this process's Celery app reconnect with its current settings.

    kombu keeps producer pools in a global registry keyed by the broker
    address; it must be cleared along with the app's own pool, or a later
    task (even an eager one: Celery 5.7 acquires a producer for those too)
    gets a pool that was closed here.
    """
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu.pools.reset()


def start_worker(broker, log_path, concurrency=1, **environment):
    """A real worker on the test database, in its own process group (one killpg reaches its pool children too)."""
    env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": broker.url,
           "CELERY_TASK_ALWAYS_EAGER": "0", "REDIS_URL": settings.REDIS_URL or "", **environment}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cmp", "worker", "-l", "info", "-c", str(concurrency),
         "--without-gossip", "--without-mingle", "-n", f"test-{time.monotonic_ns()}@%h"],
        cwd=ROOT, env=env, stdout=open(log_path, "a"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def use_broker(broker) -> dict:
    """Send this process's tasks to ``broker`` for real workers; returns what :func:`stop_workers` restores."""
    saved = {"broker_url": celery_app.conf.broker_url, "task_always_eager": celery_app.conf.task_always_eager}
    celery_app.conf.update(broker_url=broker.url, task_always_eager=False)
    reset_connections()
    return saved


def stop_workers(saved_conf, *procs, kill=True):
    """Stop what is left of the workers (SIGKILL, or a warm shutdown), and point this process back at its own broker."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            proc.wait(timeout=20)
    celery_app.conf.update(**saved_conf)
    reset_connections()


def idle(broker) -> bool:
    """Nothing left for any worker to do: the queue is empty, no message awaits its acknowledgement (a killed
    task's message would be handed out again from there), and no worker holds an active, reserved or scheduled task.

    A check that something did *not* happen again (a duplicate delivery, a third run) waits for this
    instead of sleeping: once it holds, a duplicate would already have arrived.
    """
    if broker.cli("llen", "celery") != "0" or broker.cli("hlen", "unacked") != "0":
        return False
    inspect = celery_app.control.inspect(timeout=1)
    replies = [inspect.active(), inspect.reserved(), inspect.scheduled()]
    return all(reply is not None and not any(reply.values()) for reply in replies)
