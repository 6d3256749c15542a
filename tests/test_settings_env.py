"""Settings come from the environment; with nothing set, the embedded default."""
import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), "
    "'cache': s.CACHES['default']['BACKEND'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS}))"
)
OUR_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")


def settings_with(**env):
    clean = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    clean.update(DJANGO_SETTINGS_MODULE="cmp.settings", **env)
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True)
    return result


def test_embedded_default_needs_no_server():
    result = settings_with()
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["cache"].endswith("LocMemCache")
    assert s["eager"] is True
    assert s["broker"] == "memory://"


def test_production_variables_select_postgres_and_redis():
    s = json.loads(settings_with(
        DATABASE_URL="postgres://u:p@db:5432/cmp", REDIS_URL="redis://cache:6379/0",
        SECRET_KEY="k" * 50, DEBUG="0", ALLOWED_HOSTS="cmp.example.com,api.example.com",
    ).stdout)
    assert s["db"] == "django.db.backends.postgresql"
    assert s["name"] == "cmp"
    assert s["cache"].endswith("RedisCache")
    assert s["eager"] is False
    assert s["broker"] == "redis://cache:6379/0"
    assert s["debug"] is False
    assert s["hosts"] == ["cmp.example.com", "api.example.com"]


def test_production_without_secret_key_refuses_to_start():
    result = settings_with(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
