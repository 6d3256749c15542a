"""Settings come from the environment; with nothing set, the embedded default."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']), "
    "'cache': s.CACHES['default']['BACKEND'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'public': s.CMP_PUBLIC_URL, "
    "'problems': s.SETTINGS_PROBLEMS}))"
)
OUR_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER",
                 "CMP_RECEIPT_KEYS", "CMP_SIGNING_KEYS", "CMP_SIGNING_KEYS_FILE", "CMP_RETIRED_PUBLIC_KEYS", "PORT",
                 "CMP_PUBLIC_URL")


def settings_with(**env):
    clean = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    clean.update(DJANGO_SETTINGS_MODULE="cmp.settings", **env)
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True)
    return result


def test_embedded_default_needs_no_server():
    result = settings_with(DEBUG="1")  # as make run and make test set it
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["cache"].endswith("LocMemCache")
    assert s["eager"] is True
    assert s["broker"] == "memory://localhost/"


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


def test_links_follow_the_port_served_unless_the_public_url_is_set():
    # `PORT=9000 make run` serves on 9000 (the Makefile exports PORT): emails must link there.
    assert json.loads(settings_with(DEBUG="1").stdout)["public"] == "http://127.0.0.1:8000"
    assert json.loads(settings_with(DEBUG="1", PORT="9000").stdout)["public"] == "http://127.0.0.1:9000"
    chosen = settings_with(DEBUG="1", PORT="9000", CMP_PUBLIC_URL="https://cmp.example.com")
    assert json.loads(chosen.stdout)["public"] == "https://cmp.example.com"
    problems = json.loads(settings_with(DEBUG="1", PORT="nine").stdout)["problems"]
    assert problems == ["PORT='nine' is not valid: expected a whole number of at least 1."]


def test_debug_is_off_unless_turned_on():
    result = settings_with(SECRET_KEY="k" * 50)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False


def test_production_without_secret_key_refuses_to_start():
    for env in ({}, {"DEBUG": "0"}):
        result = settings_with(**env)
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    clean.update(DJANGO_SETTINGS_MODULE="cmp.settings", SECRET_KEY="k" * 50, **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_a_bad_value_is_a_clear_check_error_naming_the_variable():
    result = manage("check", CMP_RATE_WRITES_PER_IP="60/x", CMP_CACHE_LEASE_SECONDS="soon", DEBUG="maybe")
    assert result.returncode != 0
    out = result.stderr + result.stdout
    assert "cmp.E001" in out and "Traceback" not in out
    assert "CMP_RATE_WRITES_PER_IP='60/x' is not valid: expected count/seconds" in out
    assert "CMP_CACHE_LEASE_SECONDS='soon' is not valid" in out and "DEBUG='maybe' is not valid" in out


def test_servers_refuse_to_start_on_a_bad_value():
    probe = "import cmp.wsgi"
    clean = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    clean.update(DJANGO_SETTINGS_MODULE="cmp.settings", SECRET_KEY="k" * 50, CMP_RATE_WRITES_PER_SITE="lots")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=clean, capture_output=True, text=True)
    assert result.returncode != 0
    assert "CMP_RATE_WRITES_PER_SITE='lots' is not valid" in result.stderr


def test_good_values_are_parsed_once_into_their_types():
    result = subprocess.run(
        [sys.executable, "-c", "import django, json; django.setup(); from django.conf import settings as s; "
         "print(json.dumps([s.CMP_RATE_WRITES_PER_IP, s.CMP_CACHE_LEASE_SECONDS, [k for k, _ in s.CMP_RECEIPT_KEYS]]))"],
        cwd=ROOT, capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}, "DJANGO_SETTINGS_MODULE": "cmp.settings",
             "SECRET_KEY": "k" * 50, "CMP_RATE_WRITES_PER_IP": "5/10", "CMP_CACHE_LEASE_SECONDS": "2.5",
             "CMP_RECEIPT_KEYS": "new:" + "a" * 40 + ",old:" + "b" * 40},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[5, 10], 2.5, ["new", "old"]]


SIGNING_PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; from audit.signing import jwks; "
    "print(json.dumps([[k for k, _ in s.CMP_SIGNING_KEYS], [k['kid'] for k in jwks()['keys']]]))"
)


def signing_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    clean.update(DJANGO_SETTINGS_MODULE="cmp.settings", SECRET_KEY="k" * 50, **env)
    return subprocess.run([sys.executable, "-c", SIGNING_PROBE], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_signing_keys_come_from_the_environment_or_a_file_and_all_are_published(tmp_path):
    key = "A" * 43  # 32 bytes in base64url, without padding
    result = signing_settings(CMP_SIGNING_KEYS=f"k2:{key}=,k1:{'B' * 43}", CMP_RETIRED_PUBLIC_KEYS=f"k0:{'C' * 43}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["k2", "k1"], ["k2", "k1", "k0"]]
    secret = tmp_path / "signing-keys"
    secret.write_text(f"k3:{key}\n")
    result = signing_settings(CMP_SIGNING_KEYS_FILE=str(secret))
    assert json.loads(result.stdout) == [["k3"], ["k3"]]
    assert json.loads(signing_settings(DEBUG="1").stdout) == [["dev-ed25519"], ["dev-ed25519"]]  # development only
    assert json.loads(signing_settings().stdout) == [[], []]  # production: none (check --deploy refuses)


def test_a_bad_signing_key_is_a_check_error_and_never_echoed(tmp_path):
    result = manage("check", CMP_SIGNING_KEYS="k1:" + "A" * 40)
    out = result.stderr + result.stdout
    assert result.returncode != 0 and "cmp.E001" in out and "32 bytes in base64url" in out
    assert "A" * 40 not in out  # a secret is never printed
    result = manage("check", CMP_SIGNING_KEYS_FILE=str(tmp_path / "missing"))
    assert result.returncode != 0 and "CMP_SIGNING_KEYS_FILE" in result.stderr + result.stdout
    result = manage("check", CMP_SIGNING_KEYS="k1:" + "A" * 43, CMP_RECEIPT_KEYS="k1:" + "b" * 40)
    assert result.returncode != 0 and "key id 'k1' is also used" in result.stderr + result.stdout


def test_the_region_header_is_a_header_name_or_a_start_up_error():
    probe = ("import django, json; django.setup(); from django.conf import settings as s; "
             "print(json.dumps([s.CMP_REGION_HEADER, s.SETTINGS_PROBLEMS]))")
    clean = {k: v for k, v in os.environ.items() if k not in (*OUR_VARIABLES, "CMP_REGION_HEADER")}

    def read(value):
        env = {**clean, "DJANGO_SETTINGS_MODULE": "cmp.settings", "DEBUG": "1"}
        if value is not None:
            env["CMP_REGION_HEADER"] = value
        result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert read(None) == ["CF-Region-Code", []]
    assert read("CloudFront-Viewer-Country-Region") == ["CloudFront-Viewer-Country-Region", []]
    assert read("") == ["", []]
    header, problems = read("Region: US")
    assert header == "CF-Region-Code" and problems == [
        "CMP_REGION_HEADER='Region: US' is not valid: expected a header name such as "
        "CloudFront-Viewer-Country-Region (or empty)."]
