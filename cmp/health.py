"""Health probes for the orchestrator.

``/healthz``: the process is up and serving (no dependency is touched, so a
slow database never gets a healthy web process restarted). ``/readyz``: the
database and the cache both answer, so the process can take traffic.
"""
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {"database": _database(), "cache": _cache()}
    ready = all(checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def _database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _cache() -> bool:
    try:
        # A write, though the probe is a GET: the process needs a cache that takes writes (the lookup fills
        # it), and a read alone would pass on a replica that refuses them.
        cache.set("readyz", "1", 5)
        return cache.get("readyz") == "1"
    except Exception:
        return False
